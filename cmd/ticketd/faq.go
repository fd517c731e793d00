package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"text/tabwriter"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/ticketd/ticketd/mailbox"
	"github.com/ticketd/ticketd/templates"
	"github.com/ticketd/ticketd/ticket"
)

// faqEntry is one entry of faq.file, as operators export it from their
// FAQ page.
type faqEntry struct {
	ID       string `yaml:"id"`
	Question string `yaml:"question"`
	Answer   string `yaml:"answer"`
	URL      string `yaml:"url"`
}

// loadFAQ reads and indexes the FAQ file at path. Every problem names the
// entry it is in.
func loadFAQ(path string, opt ticket.FAQOptions) (*ticket.FAQIndex, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var raw []faqEntry
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&raw); err != nil && !errors.Is(err, io.EOF) { // io.EOF: an empty file
		return nil, fmt.Errorf("%s: want a YAML list of {id, question, answer, url}: %w", path, err)
	}
	if len(raw) == 0 {
		return nil, fmt.Errorf("%s: no entries", path)
	}
	entries := make([]ticket.FAQEntry, len(raw))
	for i, e := range raw {
		if e.URL != "" {
			u, err := url.Parse(strings.TrimSpace(e.URL))
			if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
				return nil, fmt.Errorf("%s: entry %d (%s): url %q: want an http or https address", path, i+1, e.ID, e.URL)
			}
		}
		entries[i] = ticket.FAQEntry{ID: strings.TrimSpace(e.ID), Question: strings.TrimSpace(e.Question),
			Answer: strings.TrimSpace(e.Answer), URL: strings.TrimSpace(e.URL)}
	}
	x, err := ticket.NewFAQIndex(entries, opt)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return x, nil
}

// faqSource is the FAQ serve suggests from: the last good load of
// faq.file, read again when the file changes and on SIGHUP.
type faqSource struct {
	path string
	opt  ticket.FAQOptions
	log  *slog.Logger
	cur  atomic.Pointer[ticket.FAQIndex]

	mu      sync.Mutex
	stamp   fileStamp
	lastErr string
}

// fileStamp is what tells a changed file.
type fileStamp struct {
	mod  time.Time
	size int64
}

func stampOf(path string) (fileStamp, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return fileStamp{}, err
	}
	return fileStamp{fi.ModTime(), fi.Size()}, nil
}

// newFAQSource starts from the index check-config loaded (x).
func newFAQSource(path string, opt ticket.FAQOptions, x *ticket.FAQIndex, log *slog.Logger) *faqSource {
	f := &faqSource{path: path, opt: opt, log: log}
	f.stamp, _ = stampOf(path)
	f.cur.Store(x)
	return f
}

// Suggest is ticket.FAQ: the current index's suggestions.
func (f *faqSource) Suggest(subject, text string) []ticket.Suggestion {
	if x := f.cur.Load(); x != nil {
		return x.Suggest(subject, text)
	}
	return nil
}

// entries is the number of entries in use (0 for a nil source).
func (f *faqSource) entries() int {
	if f == nil {
		return 0
	}
	if x := f.cur.Load(); x != nil {
		return x.Len()
	}
	return 0
}

// failing reports whether the file as it is on disk does not load.
func (f *faqSource) failing() bool {
	if f == nil {
		return false
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.lastErr != ""
}

// Reload reads the file again (force: even when it looks unchanged). A
// file that does not load keeps the last good index; the failure is
// logged once per change of the file.
func (f *faqSource) Reload(force bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	st, err := stampOf(f.path)
	if err == nil && st == f.stamp && !force {
		return
	}
	f.stamp = st
	x, lerr := loadFAQ(f.path, f.opt)
	if err != nil {
		lerr = err
	}
	if lerr != nil {
		if msg := lerr.Error(); msg != f.lastErr || force {
			f.lastErr = msg
			n := 0
			if cur := f.cur.Load(); cur != nil {
				n = cur.Len()
			}
			f.log.Error("faq: the file does not load; the last good one stays in use (faq.file)", "err", lerr, "entries", n)
		}
		return
	}
	f.lastErr = ""
	f.cur.Store(x)
	f.log.Info("faq: loaded", "file", f.path, "entries", x.Len())
}

// Watch reloads the file when it changes, every interval, until ctx ends.
func (f *faqSource) Watch(ctx context.Context, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			f.Reload(false)
		}
	}
}

// cmdFAQTest prints what the acknowledgement of a mail would suggest: every
// entry that shares words with it, with its score, and which would be
// offered at faq.suggest and faq.min_score.
func cmdFAQTest(c *cli) int {
	if len(c.args) != 1 {
		return c.fail("usage: ticketd faq test FILE.eml")
	}
	s, ok := c.settings()
	if !ok {
		return exitConfig
	}
	if s.FAQ == nil {
		return c.fail("faq test: no faq.file is configured")
	}
	raw, err := os.ReadFile(c.args[0])
	if err != nil {
		return c.fail("faq test: %v", err)
	}
	m, err := mailbox.Parse(raw)
	if err != nil {
		return c.fail("faq test: %s: %v", c.args[0], err)
	}
	visible := m.Visible
	if visible == "" {
		visible = m.Text
	}
	all := s.FAQ.Score(m.Subject, visible)
	offered := s.FAQ.Suggest(m.Subject, visible)
	if c.asJSON {
		return c.printJSON(map[string]any{"min_score": s.FAQOptions.MinScore, "suggest": s.FAQOptions.Max,
			"offered": offered, "scores": all})
	}
	lang := s.Config.Center.Language
	term := func(k string) string { return templates.Term(lang, k) }
	w := tabwriter.NewWriter(c.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintf(w, "%s\t%s\t%s\t%s\n", term("faq_score"), term("faq_offered"), "ID", term("faq_question"))
	for i, sg := range all {
		if i == 10 {
			break
		}
		mark := ""
		if i < len(offered) {
			mark = "*"
		}
		fmt.Fprintf(w, "%.3f\t%s\t%s\t%s\n", sg.Score, mark, sg.ID, sg.Question)
	}
	w.Flush()
	if len(offered) == 0 {
		fmt.Fprintf(c.stdout, term("faq_none")+"\n", s.FAQOptions.MinScore)
	} else {
		fmt.Fprintf(c.stdout, term("faq_some")+"\n", len(offered), s.FAQOptions.MinScore)
	}
	return exitOK
}
