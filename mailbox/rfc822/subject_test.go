package rfc822

import "testing"

func TestBaseSubject(t *testing.T) {
	for in, want := range map[string]struct {
		base  string
		reply bool
	}{
		"대출 문의":               {"대출 문의", false},
		"Re: 대출 문의":           {"대출 문의", true},
		"RE: Fwd: FW: 대출 문의":  {"대출 문의", true},
		"회신: 답장: 전달: 상환일":     {"상환일", true},
		"Re[2]: AW: Antw: 질문": {"질문", true},
		"re：전각 콜론":            {"전각 콜론", true},
		"Reply needed":        {"Reply needed", false},
		"Undelivered Mail":    {"Undelivered Mail", false},
		"  Re:  공백  ":         {"공백", true},
	} {
		if base, reply := BaseSubject(in); base != want.base || reply != want.reply {
			t.Errorf("BaseSubject(%q) = %q %v, want %q %v", in, base, reply, want.base, want.reply)
		}
	}
}
