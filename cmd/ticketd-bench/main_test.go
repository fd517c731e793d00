package main

import (
	"testing"

	"github.com/ticketd/ticketd/ticket/tickettest"
)

// TestMain fails the run when a panic was recovered and logged.
func TestMain(m *testing.M) { tickettest.Main(m) }

// splitMIME keeps the content of a delivered mail (MIME-Version and the
// Content-* fields, folded lines too, and the body) and drops the rest.
func TestSplitMIME(t *testing.T) {
	raw := "Return-Path: <support@example.test>\r\nReceived: from x\r\n\tby y\r\nFrom: a <a@example.test>\r\n" +
		"MIME-Version: 1.0\r\nContent-Type: multipart/alternative;\r\n boundary=\"zz\"\r\nSubject: [#1] 접수\r\n\r\n--zz\r\nbody\r\n--zz--\r\n"
	c, err := splitMIME([]byte(raw))
	if err != nil {
		t.Fatal(err)
	}
	if want := "MIME-Version: 1.0\r\nContent-Type: multipart/alternative;\r\n boundary=\"zz\"\r\n"; c.header != want {
		t.Errorf("header %q, want %q", c.header, want)
	}
	if want := "--zz\r\nbody\r\n--zz--\r\n"; c.body != want {
		t.Errorf("body %q, want %q", c.body, want)
	}
	if _, err := splitMIME([]byte("From: a\r\nSubject: b\r\n\r\nx")); err == nil {
		t.Error("a mail without Content-Type was taken")
	}
}
