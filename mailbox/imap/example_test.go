package imap_test

import (
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/ticketd/ticketd/mailbox"
	"github.com/ticketd/ticketd/mailbox/devserver"
	"github.com/ticketd/ticketd/mailbox/imap"
	"github.com/ticketd/ticketd/store"
	"github.com/ticketd/ticketd/templates"
	"github.com/ticketd/ticketd/ticket"
)

// A poller fetches the new mail of one folder into the ticket service:
// here an in-memory IMAP server's INBOX holding one inquiry, and a ticket
// service on a fresh database. The mail becomes ticket #1 and is marked
// \Seen on the server; a second poll finds nothing new.
func ExamplePoller() {
	srv, err := devserver.Start(devserver.Options{Users: map[string]string{"support@example.com": "pw"}})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer srv.Close()
	srv.Append("support@example.com", "INBOX", []byte("From: 김민수 <kim@example.org>\r\nTo: support@example.com\r\n"+
		"Subject: 채무조정 신청 문의\r\nMessage-ID: <q1@example.org>\r\nDate: Tue, 24 Nov 2026 10:00:00 +0900\r\n\r\n신청 방법을 알려 주세요.\r\n"))

	dir, _ := os.MkdirTemp("", "example")
	defer os.RemoveAll(dir)
	db, err := store.Open(filepath.Join(dir, "ticketd.db"), nil)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer db.Close()
	svc := exampleService(db)

	host, portText, _ := net.SplitHostPort(srv.IMAPAddr())
	port, _ := strconv.Atoi(portText)
	p, err := imap.NewPoller(imap.Config{
		Name: "support", Host: host, Port: port, Security: "plain", // plain: loopback only
		Username: "support@example.com", Password: "pw", Folder: "INBOX", PostAction: imap.PostSeen,
		BatchSize: 500, MaxMessageBytes: 25 << 20, Timeout: 2 * time.Minute,
		Pipe: mailbox.PipeOptions{Workers: 2, MaxBytes: 8 << 20},
	}, svc, nil)
	if err != nil {
		fmt.Println(err)
		return
	}
	for range 2 {
		st, err := p.Poll(context.Background())
		if err != nil {
			fmt.Println(err)
			return
		}
		fmt.Printf("fetched %d, new tickets %d\n", st.Fetched, st.NewTickets)
	}
	db.View(func(tx ticket.ReadTx) error {
		t, _ := tx.Ticket(1)
		fmt.Printf("#%d %s (%s, %s)\n", t.ID, t.Subject, t.Requester.Email, t.Status)
		return nil
	})
	// Output:
	// fetched 1, new tickets 1
	// fetched 0, new tickets 0
	// #1 채무조정 신청 문의 (kim@example.org, new)
}

// exampleService is a ticket service with the policy ticketd's
// configuration ships with.
func exampleService(db *store.DB) *ticket.Service {
	render, err := templates.New("")
	if err != nil {
		panic(err)
	}
	key, err := db.Secret()
	if err != nil {
		panic(err)
	}
	signer, err := ticket.NewSigner(key)
	if err != nil {
		panic(err)
	}
	seoul, _ := time.LoadLocation("Asia/Seoul")
	svc, err := ticket.NewService(db, render, ticket.Config{
		Support: ticket.Address{Name: "고객센터", Email: "support@example.com"}, Domain: "example.com",
		Language: "ko", CenterName: "고객센터", Signer: signer, AgentFrom: "{agent} ({center})",
		Hours:       ticket.Hours{Days: []time.Weekday{1, 2, 3, 4, 5}, Open: 9 * time.Hour, Close: 18 * time.Hour, Loc: seoul},
		AutoPerHour: 5, AutoPerDay: 20, AutoMinInterval: 2 * time.Minute, SuppressFor: 30 * 24 * time.Hour,
		ReopenWithin: 30 * 24 * time.Hour, MaxParticipants: 10, SpamHeader: "X-Spam-Flag", SpamValue: "YES",
	}, nil)
	if err != nil {
		panic(err)
	}
	return svc
}
