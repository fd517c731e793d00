package mailbox

import (
	"fmt"

	"github.com/ticketd/ticketd/ticket"
)

// Deliver parses raw and hands it to svc, as the poller's [Pipe] does for
// each mail but alone: a mail that parses (even with warnings) is
// ingested, one that is not a mail at all is kept as rejected. A panic
// while parsing or handling is recovered and the mail is kept as rejected.
// The returned error is a storage failure: the mail was not recorded and
// must be tried again.
func Deliver(svc *ticket.Service, raw []byte, in ticket.Incoming) (res ticket.Result, rejected bool, err error) {
	j := &Job{Raw: raw, In: in}
	parseJob(j, svc.HeaderFields())
	return deliverParsed(svc, j)
}

// Retry runs a quarantined mail through the pipeline again (after an
// upgrade, say). On success the quarantine record is removed in the same
// transaction as the stored mail.
func Retry(svc *ticket.Service, id uint64) (ticket.Result, error) {
	r, err := svc.Quarantined(id)
	if err != nil {
		return ticket.Result{}, err
	}
	j := &Job{Raw: r.Raw, In: ticket.Incoming{Source: "quarantine retry (" + r.Source + ")", Quarantined: id}}
	parseJob(j, svc.HeaderFields())
	if j.mail == nil {
		return ticket.Result{}, fmt.Errorf("quarantined mail %d still cannot be handled: %w", id, j.perr)
	}
	j.In.Raw, j.In.Mail = j.Raw, j.mail
	return svc.Ingest(j.In)
}
