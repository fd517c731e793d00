package mailbox

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"runtime/debug"
	"sync"
	"time"

	"github.com/ticketd/ticketd/mailbox/rfc822"
	"github.com/ticketd/ticketd/ticket"
)

// PipeOptions bound the ingest pipeline that a poll feeds: mails are
// fetched, parsed on several cores and committed in batches, all at once.
type PipeOptions struct {
	// Workers is the number of parse goroutines (1 or more).
	Workers int
	// MaxBytes bounds the raw bytes in flight: fetched but not yet
	// committed (1 or more). A mail larger than the bound is let in
	// alone, so memory stays within a small multiple of the largest mail
	// whatever the backlog.
	MaxBytes int64
	// BatchMails and BatchBytes bound one commit (0: 64 mails, 4 MiB).
	// A batch is committed early when the next mail is not parsed yet, so
	// a lone mail (IDLE) is never kept waiting.
	BatchMails int
	BatchBytes int64
}

// The commit batch, which no operator sets: zero BatchMails and
// BatchBytes take these.
const (
	batchMails = 64
	batchBytes = 4 << 20
)

// Check reports a PipeOptions a pipe cannot run with.
func (o PipeOptions) Check() error {
	if o.Workers < 1 || o.MaxBytes < 1 {
		return fmt.Errorf("ingest pipeline: workers and bytes in flight must be 1 or more, got %d and %d", o.Workers, o.MaxBytes)
	}
	return nil
}

func (o PipeOptions) withBatch() PipeOptions {
	if o.BatchMails <= 0 {
		o.BatchMails = batchMails
	}
	if o.BatchBytes <= 0 {
		o.BatchBytes = batchBytes
	}
	return o
}

// Job is one mail on its way through a Pipe.
type Job struct {
	// Raw is the mail; In says where it came from (Raw and Mail are set by
	// the pipe).
	Raw []byte
	In  ticket.Incoming
	// UID is the mail's IMAP UID in the pipe's Folder (any number that
	// names the job to its caller, without one).
	UID uint32

	seq      int
	reserved int64
	mail     *ticket.Mail
	perr     error
}

// Pipe parses mails on several goroutines and commits them in order, in
// batches of one transaction each. Submit mails with Reserve then Submit
// from one goroutine, then Close and Wait; Take says, as often as the
// caller likes, what was committed meanwhile, and Stats what in all. With
// a Folder each commit carries the folder's cursor.
type Pipe struct {
	svc    *ticket.Service
	log    *slog.Logger
	opt    PipeOptions
	fields []string // the header fields the service's rules read
	folder *folder  // nil without a Folder
	seams  pipeSeams

	parse  chan *Job
	parsed chan *Job
	wg     sync.WaitGroup // parse workers
	done   chan struct{}  // the commit goroutine ended

	mu       sync.Mutex
	inflight int64
	freed    chan struct{} // signalled when inflight shrinks
	err      error         // the first fatal error
	next     int           // seq of the next submitted job
	stats    PipeStats
	taken    Committed // committed since the last Take
}

// NewPipe starts the parse workers and the commit goroutine. f, when not
// nil, is the IMAP folder the jobs come from. opt must pass Check (it
// panics otherwise: the caller checked the configuration it came from).
func NewPipe(svc *ticket.Service, opt PipeOptions, f *Folder, log *slog.Logger) *Pipe {
	return newPipe(svc, opt, f, log, pipeSeams{})
}

// pipeSeams let the tests hold a pipe at a point (export_test.go).
type pipeSeams struct {
	parsed  func() // after a mail is parsed, on its parse goroutine
	prepare func() // before a mail is committed
}

func newPipe(svc *ticket.Service, opt PipeOptions, f *Folder, log *slog.Logger, seams pipeSeams) *Pipe {
	if err := opt.Check(); err != nil {
		panic("mailbox: NewPipe: " + err.Error()) // the caller's options were checked: a bug
	}
	opt = opt.withBatch()
	if log == nil {
		log = slog.Default()
	}
	p := &Pipe{svc: svc, log: log, opt: opt, fields: svc.HeaderFields(), folder: newFolder(f), seams: seams,
		// Room for a whole batch on both sides of the parsers, so that a
		// slow commit lets the next batch gather (the byte bound, not
		// these, limits memory).
		parse:  make(chan *Job, opt.BatchMails),
		parsed: make(chan *Job, opt.BatchMails),
		done:   make(chan struct{}),
		freed:  make(chan struct{}, 1),
	}
	for range opt.Workers {
		p.wg.Add(1)
		go p.parser()
	}
	go func() {
		p.wg.Wait()
		close(p.parsed)
	}()
	go p.committer()
	return p
}

// Reserve waits until n more raw bytes fit in the bound (or nothing is in
// flight) and counts them; Submit the job with reserved set to n. It fails
// when ctx ends or the pipe has stopped on an error.
func (p *Pipe) Reserve(ctx context.Context, n int64) error {
	for {
		p.mu.Lock()
		if p.err != nil {
			err := p.err
			p.mu.Unlock()
			return err
		}
		if p.inflight == 0 || p.inflight+n <= p.opt.MaxBytes {
			p.inflight += n
			p.mu.Unlock()
			return nil
		}
		p.mu.Unlock()
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-p.freed:
		case <-p.done:
			if err := p.Err(); err != nil {
				return err
			}
			return errPipeStopped
		}
	}
}

// Release returns n reserved bytes that will not be submitted.
func (p *Pipe) Release(n int64) {
	p.mu.Lock()
	p.inflight -= n
	p.mu.Unlock()
	select {
	case p.freed <- struct{}{}:
	default:
	}
}

// Submit hands a job to the parse workers; reserved is what Reserve
// counted for it. Submit is called from one goroutine.
func (p *Pipe) Submit(j *Job, reserved int64) {
	j.seq, j.reserved = p.next, reserved
	p.next++
	p.parse <- j
}

// Close says no more jobs come.
func (p *Pipe) Close() { close(p.parse) }

// Wait waits for every submitted job to be committed (or failed) and
// returns the first error that stopped the pipe.
func (p *Pipe) Wait() error {
	<-p.done
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.err
}

// Err is the error that stopped the pipe, if it has.
func (p *Pipe) Err() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.err
}

func (p *Pipe) parser() {
	defer p.wg.Done()
	for j := range p.parse {
		parseJob(j, p.fields, p.log)
		if p.seams.parsed != nil {
			p.seams.parsed()
		}
		p.parsed <- j
	}
}

// parseJob hashes, parses and sanitises one mail. It is the panic
// boundary of reading one mail: a panic is the mail's problem (it gets
// quarantined), not the caller's, and is logged once with its stack. A
// panic the reader itself recovered from (it returns what it read before)
// is logged here too.
func parseJob(j *Job, fields []string, log *slog.Logger) {
	defer func() {
		if r := recover(); r != nil {
			log.Error("ingest: panic while reading a mail; it is quarantined", "source", j.In.Source, "panic", r, "stack", string(debug.Stack()))
			j.mail, j.perr = nil, fmt.Errorf("parser panic: %v", r)
		}
	}()
	sum := sha256.Sum256(j.Raw) // here, not on the committing goroutine
	j.In.RawSHA256 = hex.EncodeToString(sum[:])
	m, pe, err := read(j.Raw, fields)
	if err != nil {
		j.perr = err
		return
	}
	if pe != nil {
		log.Error("ingest: the reader recovered from a panic; the mail is stored with what it read", "source", j.In.Source, "panic", pe.Value, "stack", pe.Stack)
	}
	m.HTML = rfc822.SanitizeHTML(m.HTML)
	j.mail = m
}

// committer puts the parsed jobs back in order and commits them in
// batches.
func (p *Pipe) committer() {
	defer close(p.done)
	defer func() {
		if r := recover(); r != nil {
			p.log.Error("ingest: panic in the committer; the pipe stops", "panic", r, "stack", string(debug.Stack()))
			p.fail(fmt.Errorf("ingest pipeline: panic: %v", r))
			for range p.parsed { // let the parsers finish
			}
		}
	}()
	early := map[int]*Job{}
	want := 0
	open := true
	var batch []*Job
	var bytes int64
	// ready returns the next job in order if it is parsed, waiting for it
	// only when wait is set.
	ready := func(wait bool) *Job {
		for {
			if j, ok := early[want]; ok {
				delete(early, want)
				want++
				return j
			}
			if !open {
				return nil
			}
			if wait {
				j, ok := <-p.parsed
				if !ok {
					open = false
					continue
				}
				early[j.seq] = j
				continue
			}
			select {
			case j, ok := <-p.parsed:
				if !ok {
					open = false
					continue
				}
				early[j.seq] = j
			default:
				return nil
			}
		}
	}
	for {
		j := ready(len(batch) == 0)
		if j != nil {
			batch = append(batch, j)
			bytes += int64(len(j.Raw))
			if len(batch) < p.opt.BatchMails && bytes < p.opt.BatchBytes {
				continue
			}
		}
		if len(batch) == 0 {
			return // closed and drained
		}
		p.commit(batch)
		for _, j := range batch {
			p.Release(j.reserved)
		}
		clear(batch)
		batch, bytes = batch[:0], 0
	}
}

// commit stores a batch in one transaction; if that fails, each mail
// alone with retries and quarantine.
func (p *Pipe) commit(batch []*Job) {
	if p.Err() != nil {
		for _, j := range batch {
			p.failed(j)
		}
		return
	}
	ins := make([]ticket.Incoming, len(batch))
	for i, j := range batch {
		if p.seams.prepare != nil {
			p.seams.prepare()
		}
		p.prepare(j)
		j.In.Raw, j.In.Mail = j.Raw, j.mail
		if j.perr != nil {
			j.In.Problem = j.perr.Error()
		}
		ins[i] = j.In
	}
	res, err := p.ingestBatch(ins)
	p.mu.Lock()
	p.stats.Commits++ // one more if the mails are then stored one by one
	p.mu.Unlock()
	if err == nil {
		for i, j := range batch {
			p.committed(j, res[i], j.mail == nil)
		}
		return
	}
	if errors.Is(err, ticket.ErrNotHeld) {
		// Another node took the mailbox over: its mails stay on the
		// server, before the cursor, for that node.
		p.log.Info("ingest: another node holds the mailbox now; its mails stay on the server for that node", "mails", len(batch))
		p.fail(err)
		for _, j := range batch {
			p.failed(j)
		}
		return
	}
	if errors.Is(err, ticket.ErrCannotWrite) {
		// The machine cannot write (a full disk, say): no mail is to blame,
		// none is quarantined; they stay on the server, before the cursor,
		// until it can.
		p.log.Error("ingest: the database cannot be written; the mails stay on the server and are fetched again later", "mails", len(batch), "err", err)
		p.fail(err)
		for _, j := range batch {
			p.failed(j)
		}
		return
	}
	if len(batch) > 1 {
		p.log.Warn("ingest: a batch could not be stored; storing its mails one by one", "mails", len(batch), "err", err)
	}
	for i, j := range batch {
		r, rejected, err := p.deliver(j)
		if err != nil {
			p.fail(err)
			for _, j := range batch[i:] {
				p.failed(j)
			}
			return
		}
		p.mu.Lock()
		p.stats.Commits++
		p.mu.Unlock()
		p.committed(j, r, rejected)
	}
}

// ingestBatch is IngestBatch with a panic turned into an error, so that the
// mails are tried one by one (where deliverParsed quarantines the one at
// fault). It is the panic boundary of one batch.
func (p *Pipe) ingestBatch(ins []ticket.Incoming) (res []ticket.Result, err error) {
	defer func() {
		if r := recover(); r != nil {
			p.log.Error("ingest: panic while committing a batch; storing its mails one by one", "mails", len(ins), "panic", r, "stack", string(debug.Stack()))
			res, err = nil, fmt.Errorf("panic: %v", r)
		}
	}()
	return p.svc.IngestBatch(ins)
}

// fail stops the pipe with err (the first error wins).
func (p *Pipe) fail(err error) {
	p.mu.Lock()
	if p.err == nil {
		p.err = err
	}
	p.mu.Unlock()
	select {
	case p.freed <- struct{}{}:
	default:
	}
}

// errPipeStopped is what Reserve returns after the pipe stopped without an
// error of its own (Reserve after Close).
var errPipeStopped = errors.New("ingest pipeline stopped")

// deliver stores one mail alone, trying a failing store a few times; a mail
// that still cannot be stored is quarantined with the error so the others
// go on. When the machine cannot write (ticket.ErrCannotWrite), or the
// quarantine itself fails, the error is returned instead: the mail stays
// on the server and the cursor before it.
func (p *Pipe) deliver(j *Job) (ticket.Result, bool, error) {
	var err error
	for attempt, wait := 1, 100*time.Millisecond; attempt <= 3; attempt, wait = attempt+1, wait*4 {
		var res ticket.Result
		var rejected bool
		res, rejected, err = deliverParsed(p.svc, j, p.log)
		if err == nil {
			return res, rejected, nil
		}
		if errors.Is(err, ticket.ErrCannotWrite) || errors.Is(err, ticket.ErrNotHeld) {
			// Not the mail's fault: it waits on the server (see commit).
			return res, rejected, fmt.Errorf("%s: %w", j.In.Source, err)
		}
		p.log.Warn("ingest: storing a mail failed", "attempt", attempt, "source", j.In.Source, "err", err)
		if attempt < 3 {
			time.Sleep(wait)
		}
	}
	in := j.In
	in.Raw = j.Raw
	res, qerr := p.svc.Reject(in, "could not be stored after 3 attempts: "+err.Error())
	if qerr != nil || errors.Is(err, ticket.ErrCannotWrite) {
		return res, false, fmt.Errorf("%s: %w", j.In.Source, err)
	}
	p.log.Error("ingest: mail quarantined", "source", in.Source, "err", err)
	return res, true, nil
}

// deliverParsed stores one job alone: Deliver's logic with the mail the
// pipe already parsed. It is the panic boundary of storing one mail: the
// mail is quarantined, the panic logged once with its stack.
func deliverParsed(svc *ticket.Service, j *Job, log *slog.Logger) (res ticket.Result, rejected bool, err error) {
	defer func() {
		if r := recover(); r != nil {
			log.Error("ingest: panic while storing a mail; it is quarantined", "source", j.In.Source, "panic", r, "stack", string(debug.Stack()))
			res, err = svc.Reject(j.In, fmt.Sprintf("panic while handling the mail: %v", r))
			rejected = true
		}
	}()
	in := j.In
	in.Raw = j.Raw
	if j.mail == nil {
		res, err = svc.Reject(in, j.perr.Error())
		return res, true, err
	}
	in.Mail = j.mail
	res, err = svc.Ingest(in)
	return res, false, err
}
