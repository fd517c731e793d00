package main

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/ticketd/ticketd/e2e"
)

// modeResults are the runs over one transport.
type modeResults struct {
	drains   []drainResult
	ceilings []drainResult // the drain with hashing and fdatasync'd appends
	polls    []pollResult
	mta      []float64 // the MTA's one-connection rate, mails/s, each run
	mtaPipe  []float64 // the same with PIPELINING
}

// describeMachine returns one line naming the hardware and software.
func (b *bench) describeMachine() string {
	cpu := "unknown CPU"
	if v := procField("/proc/cpuinfo", "model name"); v != "" {
		cpu = v
	}
	ram := "? GiB RAM"
	if v := procField("/proc/meminfo", "MemTotal"); v != "" {
		if kb, err := strconv.ParseFloat(strings.Fields(v)[0], 64); err == nil {
			ram = fmt.Sprintf("%.1f GiB RAM", kb/(1<<20))
		}
	}
	osName := "Linux"
	if v := procField("/etc/os-release", "PRETTY_NAME"); v != "" {
		osName = strings.Trim(v, `"`)
	}
	if v, err := os.ReadFile("/etc/debian_version"); err == nil {
		osName += " (" + strings.TrimSpace(string(v)) + ")"
	}
	kernel, _ := os.ReadFile("/proc/sys/kernel/osrelease")
	goVersion := runtime.Version()
	if out, err := exec.Command(goTool(), "env", "GOVERSION").Output(); err == nil {
		goVersion = strings.TrimSpace(string(out))
	}
	dovecot := firstWord(output("/usr/sbin/dovecot", "--version"))
	postfix := strings.TrimSpace(output("/usr/sbin/postconf", "-d", "-h", "mail_version"))
	rev := "ticketd " + strings.TrimSpace(output("git", "-C", b.root, "rev-parse", "--short", "HEAD"))
	switch {
	case b.opts.ticketd != "":
		rev = strings.TrimSpace(output(b.bin, "version")) + " (-ticketd " + b.opts.ticketd + ")"
	case rev == "ticketd ":
		rev = "ticketd (unknown revision)"
	case strings.TrimSpace(output("git", "-C", b.root, "status", "--porcelain", "--untracked-files=no")) != "":
		rev += " + uncommitted changes"
	}
	return fmt.Sprintf("%s, %d cores, %s; %s, kernel %s; %s; Dovecot %s, Postfix %s; %s; %s",
		cpu, runtime.NumCPU(), ram, osName, strings.TrimSpace(string(kernel)), goVersion, dovecot, postfix, rev,
		time.Now().Format("2006-01-02"))
}

// procField returns the value of the first "key: value" or "key=value" line.
func procField(path, key string) string {
	f, err := os.Open(path)
	if err != nil {
		return ""
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		for _, sep := range []string{":", "="} {
			if k, v, ok := strings.Cut(line, sep); ok && strings.TrimSpace(k) == key {
				return strings.TrimSpace(v)
			}
		}
	}
	return ""
}

func output(name string, args ...string) string {
	out, err := exec.Command(name, args...).Output()
	if err != nil {
		return ""
	}
	return string(out)
}

func firstWord(s string) string {
	if f := strings.Fields(s); len(f) > 0 {
		return f[0]
	}
	return "?"
}

// spread formats the median of vs, and [min-max] when there are several,
// each with format.
func spread(vs []float64, format string) string {
	if len(vs) == 0 {
		return "-"
	}
	s := slices.Clone(vs)
	slices.Sort(s)
	med := s[len(s)/2]
	if len(s)%2 == 0 {
		med = (s[len(s)/2-1] + s[len(s)/2]) / 2
	}
	if len(s) == 1 {
		return fmt.Sprintf(format, med)
	}
	return fmt.Sprintf(format+" ["+format+"-"+format+"]", med, s[0], s[len(s)-1])
}

func ms(d time.Duration) string {
	return fmt.Sprintf("%d ms", d.Round(time.Millisecond).Milliseconds())
}

// report renders the results as Markdown.
func (b *bench) report(machine string, results map[column]*modeResults, lat *latencyResult, many *manyResult, stores *storesResult) string {
	var w strings.Builder
	info := b.info
	avg := func(k kind) string {
		if info.count[k] == 0 {
			return "-"
		}
		return fmt.Sprintf("%.1f KB", float64(info.kbytes[k])/float64(info.count[k])/1e3)
	}
	fmt.Fprintf(&w, "\n### ticketd-bench\n\n")
	fmt.Fprintf(&w, "Machine: %s.\n\n", machine)
	fmt.Fprintf(&w, "Mailbox: %d mails (seed %d), %.1f MB: %d text mails (%s on average), %d with a 100-300 KiB attachment (mails of %s on average), "+
		"%d with a 2-5 MiB attachment (%s); largest %.1f MB. Each figure is the median of %d run(s) [min-max]; MB = 10^6 bytes.\n\n",
		b.opts.mails, b.opts.seed, mb(info.bytes), info.count[kindText], avg(kindText), info.count[kindMedium], avg(kindMedium),
		info.count[kindLarge], avg(kindLarge), mb(info.largest), b.opts.runs)

	names := map[string]string{"plain": "plain IMAP", "imaps": "IMAPS"}
	cols := b.opts.columns()
	fmt.Fprintf(&w, "| Backlog of %d mails |", b.opts.mails)
	for _, c := range cols {
		enc := ", no key"
		if c.encrypt {
			enc = ", encrypted at rest"
		}
		fmt.Fprintf(&w, " %s%s |", names[c.mode], enc)
	}
	w.WriteString(" target |\n|---|")
	for range cols {
		w.WriteString("---|")
	}
	w.WriteString("---|\n")
	row := func(label, target string, cell func(r *modeResults) string) {
		fmt.Fprintf(&w, "| %s |", label)
		for _, c := range cols {
			fmt.Fprintf(&w, " %s |", cell(results[c]))
		}
		fmt.Fprintf(&w, " %s |\n", target)
	}
	drainRate := func(r *modeResults, per func(d drainResult) float64) []float64 {
		var out []float64
		for _, d := range r.drains {
			out = append(out, per(d)/d.dur.Seconds())
		}
		return out
	}
	pollRate := func(r *modeResults, amount float64) []float64 {
		var out []float64
		for _, p := range r.polls {
			out = append(out, amount/p.took.Seconds())
		}
		return out
	}
	row("raw drain (go-imap, one UID FETCH 1:* BODY.PEEK[]), mails/s", "", func(r *modeResults) string {
		return spread(drainRate(r, func(d drainResult) float64 { return float64(d.mails) }), "%.0f")
	})
	row("raw drain, MB/s", "", func(r *modeResults) string {
		return spread(drainRate(r, func(d drainResult) float64 { return mb(d.bytes) }), "%.1f")
	})
	row("durable ceiling (the drain + SHA-256 + append, fdatasync every 4 MiB), MB/s", "", func(r *modeResults) string {
		var out []float64
		for _, c := range r.ceilings {
			out = append(out, mb(c.bytes)/c.dur.Seconds())
		}
		return spread(out, "%.1f")
	})
	row("`ticketd poll` ingest (connect to logout: commit, \\Seen, acks queued), mails/s", "", func(r *modeResults) string {
		return spread(pollRate(r, float64(b.opts.mails)), "%.0f")
	})
	row("`ticketd poll` ingest, MB/s", "", func(r *modeResults) string {
		return spread(pollRate(r, mb(info.bytes)), "%.1f")
	})
	targets := map[string]string{"plain": "plain >= 60%", "imaps": "IMAPS >= 90%"}
	var ratioTarget []string
	for _, m := range b.opts.modes {
		ratioTarget = append(ratioTarget, targets[m])
	}
	row("ingest / durable ceiling (same run)", ">= 90%", func(r *modeResults) string {
		var out []float64
		for i, p := range r.polls {
			if i < len(r.ceilings) {
				out = append(out, 100*r.ceilings[i].dur.Seconds()/p.took.Seconds())
			}
		}
		return spread(out, "%.0f%%")
	})
	row("ingest / raw drain (same run)", strings.Join(ratioTarget, ", "), func(r *modeResults) string {
		var out []float64
		for i, p := range r.polls {
			out = append(out, 100*r.drains[i].dur.Seconds()/p.took.Seconds())
		}
		return spread(out, "%.0f%%")
	})
	row(fmt.Sprintf("`ticketd poll` whole command incl. sending %d acks (plain SMTP), s", b.opts.mails), "", func(r *modeResults) string {
		var out []float64
		for _, p := range r.polls {
			out = append(out, p.wall.Seconds())
		}
		return spread(out, "%.1f")
	})
	row("acknowledgements sent by the outbox (first to last), mails/s", "", func(r *modeResults) string {
		var out []float64
		for _, p := range r.polls {
			out = append(out, p.ackRate())
		}
		return spread(out, "%.0f")
	})
	ackRatio := func(mta func(r *modeResults) []float64) func(r *modeResults) string {
		return func(r *modeResults) string {
			var out []float64
			for i, p := range r.polls {
				if rates := mta(r); i < len(rates) && rates[i] > 0 {
					out = append(out, 100*p.ackRate()/rates[i])
				}
			}
			return spread(out, "%.0f%%")
		}
	}
	row("the MTA's rate on one connection, one command at a time (same size, RSET between), mails/s", "", func(r *modeResults) string {
		return spread(r.mta, "%.0f")
	})
	row("the same with PIPELINING (RSET, MAIL, RCPT, DATA in one write, as the outbox sends), mails/s", "", func(r *modeResults) string {
		return spread(r.mtaPipe, "%.0f")
	})
	row("acknowledgements / the MTA's rate, one command at a time (same run)", ">= 80%", ackRatio(func(r *modeResults) []float64 { return r.mta }))
	row("acknowledgements / the MTA's rate with PIPELINING (same run)", "", ackRatio(func(r *modeResults) []float64 { return r.mtaPipe }))
	rssTarget := 3*mb(info.largest) + 40
	row("peak RSS of `ticketd poll` (VmHWM), MB", fmt.Sprintf("<= 3 x %.1f + 40 = %.1f", mb(info.largest), rssTarget), func(r *modeResults) string {
		var out []float64
		for _, p := range r.polls {
			out = append(out, kib(p.rssKiB))
		}
		return spread(out, "%.1f")
	})
	row("of which: highest RssAnon / RssFile seen (sampled every 10 ms), MB", "", func(r *modeResults) string {
		var anon, file []float64
		for _, p := range r.polls {
			anon = append(anon, kib(p.anonKiB))
			file = append(file, kib(p.fileKiB))
		}
		return spread(anon, "%.1f") + " / " + spread(file, "%.1f")
	})
	row("database / raw mail", "", func(r *modeResults) string {
		var ratio, size []float64
		for _, p := range r.polls {
			ratio = append(ratio, float64(p.dbBytes)/float64(info.bytes))
			size = append(size, mb(p.dbBytes))
		}
		return spread(ratio, "%.2f") + " (" + spread(size, "%.0f") + " MB)"
	})
	row("tickets / acks delivered (last run)", "", func(r *modeResults) string {
		if len(r.polls) == 0 {
			return "-"
		}
		p := r.polls[len(r.polls)-1]
		return fmt.Sprintf("%d / %d", p.tickets, p.delivered)
	})

	if lat != nil {
		fmt.Fprintf(&w, "\n| IDLE latency, %d mails one at a time through Postfix (`ticketd serve`, IMAPS, schedule 1h) | median | p95 | max | target p95 |\n", len(lat.committed))
		w.WriteString("|---|---|---|---|---|\n")
		for _, l := range []struct {
			label, target string
			d             []time.Duration
		}{
			{"SMTP accept -> ticket committed (serve's log line)", "<= 600 ms", lat.committed},
			{"SMTP accept -> acknowledgement readable in the customer's INBOX (IMAP, every 50 ms)", "<= 1500 ms", lat.acked},
		} {
			med, p95, most := e2e.LatencyStats(l.d)
			fmt.Fprintf(&w, "| %s | %s | %s | %s | %s |\n", l.label, ms(med), ms(p95), ms(most), l.target)
		}
	}
	if many != nil {
		med, p95, most := e2e.LatencyStats(many.pickup)
		total := many.mailboxes * many.per
		fmt.Fprintf(&w, "\n| %d mailboxes of %d mails on the same Dovecot (`ticketd serve`, IMAPS, IDLE on each, schedule 1h) | value |\n|---|---|\n", many.mailboxes, many.per)
		fmt.Fprintf(&w, "| serve's start -> every one of the %d mails a ticket, s | %.1f |\n", total, many.allIn.Seconds())
		fmt.Fprintf(&w, "| tickets/s over all mailboxes | %.0f |\n", float64(total)/many.allIn.Seconds())
		fmt.Fprintf(&w, "| serve's start -> every acknowledgement sent (plain SMTP), s | %.1f |\n", many.acksOut.Seconds())
		fmt.Fprintf(&w, "| IDLE pickup with %d IDLE connections open, one mail to each mailbox in turn: median / p95 / max | %s / %s / %s |\n",
			many.mailboxes+1, ms(med), ms(p95), ms(most))
	}
	if stores != nil {
		w.WriteString(b.storesReport(stores))
	}
	if len(b.warnings) > 0 {
		fmt.Fprintf(&w, "\n!!!!!!!! %d WARNING(S): some figures above may be wrong !!!!!!!!\n", len(b.warnings))
		for _, m := range b.warnings {
			fmt.Fprintf(&w, "WARNING: %s\n", m)
		}
	}
	return w.String()
}
