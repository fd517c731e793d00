package mailbox

import (
	"fmt"
	"runtime/debug"

	"github.com/ticketd/ticketd/ticket"
)

// Deliver parses raw and hands it to svc: a mail that parses (even with
// warnings) is ingested, one that is not a mail at all is kept as rejected.
// A panic while parsing is recovered and the mail is kept as rejected. The
// returned error is a storage failure: the mail was not recorded and must be
// tried again.
func Deliver(svc *ticket.Service, raw []byte, in ticket.Incoming) (res ticket.Result, rejected bool, err error) {
	defer func() {
		if r := recover(); r != nil {
			// A bug in the rules must not stop the poll: quarantine the mail.
			res, err = svc.Reject(in, fmt.Sprintf("panic while handling the mail: %v\n%s", r, debug.Stack()))
			rejected = true
		}
	}()
	mail, perr := safeParse(raw)
	in.Raw = raw
	if perr != nil {
		res, err = svc.Reject(in, perr.Error())
		return res, true, err
	}
	mail.HTML = SanitizeHTML(mail.HTML) // stored for display
	in.Mail = mail
	res, err = svc.Ingest(in)
	return res, false, err
}

func safeParse(raw []byte) (m *ticket.Mail, err error) {
	defer func() {
		if r := recover(); r != nil {
			m, err = nil, fmt.Errorf("parser panic: %v\n%s", r, debug.Stack())
		}
	}()
	return Parse(raw)
}

// Retry runs a quarantined mail through the pipeline again (after an
// upgrade, say). On success the quarantine record is removed in the same
// transaction as the stored mail.
func Retry(svc *ticket.Service, id uint64) (ticket.Result, error) {
	r, err := svc.Quarantined(id)
	if err != nil {
		return ticket.Result{}, err
	}
	mail, perr := safeParse(r.Raw)
	if perr != nil {
		return ticket.Result{}, fmt.Errorf("quarantined mail %d still cannot be handled: %w", id, perr)
	}
	mail.HTML = SanitizeHTML(mail.HTML)
	return svc.Ingest(ticket.Incoming{Mail: mail, Raw: r.Raw, Source: "quarantine retry (" + r.Source + ")", Quarantined: id})
}
