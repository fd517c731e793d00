package ticket

import "testing"

func TestCheckAuth(t *testing.T) {
	const id = "mx.ours.example"
	cases := []struct {
		name, ar, sender string
		passed, failed   bool
	}{
		{"dkim pass", id + "; dkim=pass header.d=ours.example header.s=sel", "agent@ours.example", true, false},
		{"spf pass", id + "; spf=pass smtp.mailfrom=agent@ours.example", "agent@ours.example", true, false},
		{"dmarc pass", id + "; dmarc=pass header.from=ours.example", "agent@ours.example", true, false},
		{"version and comments", id + " 1; spf=pass (sender SPF authorized) smtp.mailfrom=agent@ours.example", "agent@ours.example", true, false},
		{"spaces around =", id + "; dkim = pass header.d = ours.example", "agent@ours.example", true, false},
		{"quoted authserv-id", `"mx.ours.example"; spf=pass smtp.mailfrom=agent@ours.example`, "agent@ours.example", true, false},
		{"another domain", id + "; dkim=pass header.d=evil.example", "agent@ours.example", false, false},
		{"another authserv-id", "mx.evil.example; dkim=pass header.d=ours.example", "agent@ours.example", false, false},
		{"authserv-id as a prefix", "mx.ours.example.evil; dkim=pass header.d=ours.example", "agent@ours.example", false, false},
		// The quoted local part of an envelope sender of evil.example must
		// not read as a second result for ours.example.
		{"quoted local part", id + `; spf=pass smtp.mailfrom="x; spf=pass smtp.mailfrom=agent@ours.example"@evil.example`, "agent@ours.example", false, false},
		{"quoted local part, no space", id + `; spf=pass smtp.mailfrom="x;spf=pass smtp.mailfrom=agent@ours.example "@evil.example`, "agent@ours.example", false, false},
		{"result inside a comment", id + `; dkim=fail (forged; dkim=pass header.d=ours.example) header.d=ours.example`, "agent@ours.example", false, true},
		{"nested comment", id + `; spf=none (a (b; spf=pass smtp.mailfrom=agent@ours.example) c) smtp.mailfrom=agent@ours.example`, "agent@ours.example", false, false},
		{"escaped quote", id + `; spf=pass smtp.mailfrom="x\"; spf=pass smtp.mailfrom=agent@ours.example"@evil.example`, "agent@ours.example", false, false},
		{"dmarc fail", id + "; dmarc=fail header.from=ours.example; spf=pass smtp.mailfrom=bounce@ours.example", "kim@ours.example", true, true},
		{"dkim and spf fail", id + "; dkim=fail header.d=ours.example; spf=fail smtp.mailfrom=kim@ours.example", "kim@ours.example", false, true},
		{"dkim fail, spf pass", id + "; dkim=fail header.d=ours.example; spf=pass smtp.mailfrom=kim@ours.example", "kim@ours.example", true, false},
		{"none", id + "; none", "kim@ours.example", false, false},
		{"garbage", "", "kim@ours.example", false, false},
	}
	for _, c := range cases {
		v := checkAuth(c.ar, id, c.sender)
		if v.passed != c.passed || v.failed != c.failed {
			t.Errorf("%s: %q: passed %v failed %v, want %v %v", c.name, c.ar, v.passed, v.failed, c.passed, c.failed)
		}
	}
}

func FuzzParseAuthResults(f *testing.F) {
	f.Add(`mx.ours.example; spf=pass smtp.mailfrom="x; y"@evil.example (c (d)) ; dkim=pass header.d=a`)
	f.Fuzz(func(t *testing.T, s string) {
		parseAuthResults(s) // must not panic or loop
	})
}
