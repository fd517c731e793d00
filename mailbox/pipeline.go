package mailbox

import (
	"fmt"
	"log/slog"

	"github.com/ticketd/ticketd/ticket"
)

// Deliver parses raw and hands it to svc, as the poller's [Pipe] does for
// each mail but alone: a mail that parses (even with warnings) is
// ingested, one that is not a mail at all is kept as rejected. A panic
// while parsing or handling is recovered, logged on log (nil:
// slog.Default()) and the mail is kept as rejected. The returned error is
// a storage failure: the mail was not recorded and must be tried again.
func Deliver(svc *ticket.Service, raw []byte, in ticket.Incoming, log *slog.Logger) (res ticket.Result, rejected bool, err error) {
	if log == nil {
		log = slog.Default()
	}
	j := &Job{Raw: raw, In: in}
	parseJob(j, svc.HeaderFields(), log)
	return deliverParsed(svc, j, log)
}

// Retry runs a quarantined mail through the pipeline again (after an
// upgrade, say). On success the quarantine record is removed in the same
// transaction as the stored mail. A panic while reading it is logged on
// log (nil: slog.Default()).
func Retry(svc *ticket.Service, id uint64, log *slog.Logger) (ticket.Result, error) {
	if log == nil {
		log = slog.Default()
	}
	r, err := svc.Quarantined(id)
	if err != nil {
		return ticket.Result{}, err
	}
	j := &Job{Raw: r.Raw, In: ticket.Incoming{Source: "quarantine retry (" + r.Source + ")", Quarantined: id}}
	parseJob(j, svc.HeaderFields(), log)
	if j.mail == nil {
		return ticket.Result{}, fmt.Errorf("quarantined mail %d still cannot be handled: %w", id, j.perr)
	}
	j.In.Raw, j.In.Mail = j.Raw, j.mail
	return svc.Ingest(j.In)
}
