package ticket

import "time"

// startSLA sets the due times of a new ticket t opened at now.
func (s *Service) startSLA(t *Ticket, now time.Time) {
	if s.cfg.SLAFirstResponse <= 0 && s.cfg.SLAResolution <= 0 {
		return
	}
	t.Due = &Due{}
	if s.cfg.SLAFirstResponse > 0 {
		t.Due.FirstResponse = s.cfg.Hours.AddBusiness(now, s.cfg.SLAFirstResponse).UTC()
	}
	if s.cfg.SLAResolution > 0 {
		t.Due.Resolution = s.cfg.Hours.AddBusiness(now, s.cfg.SLAResolution).UTC()
	}
}

// setStatus changes t's status at now: going pending stops the resolution
// clock, leaving pending moves the resolution due time on by the business
// time it waited, and closing records when.
func (s *Service) setStatus(t *Ticket, st Status, now time.Time) {
	if d := t.Due; d != nil {
		if t.Status == StatusPending && st != StatusPending && !d.PausedSince.IsZero() {
			if !d.Resolution.IsZero() {
				d.Resolution = s.cfg.Hours.AddBusiness(d.Resolution, s.cfg.Hours.BusinessBetween(d.PausedSince, now)).UTC()
			}
			d.PausedSince = time.Time{}
		}
		if st == StatusPending && t.Status != StatusPending {
			d.PausedSince = now
		}
	}
	if st == StatusPending && t.Status != StatusPending {
		t.PendingSince, t.PendingReminded = now, time.Time{}
	} else if st != StatusPending {
		t.PendingSince, t.PendingReminded = time.Time{}, time.Time{}
	}
	t.Status = st
	if st == StatusClosed {
		t.ClosedAt = now
	}
}
