package main

import (
	"fmt"
	"net/mail"
	"path"
	"strings"

	"github.com/ticketd/ticketd/ticket"
)

// routing checks groups, routing, default_category and center.identities.
func (k *checker) routing() {
	t := &k.s.Ticket
	groups := map[string]bool{}
	for i, g := range k.c.Groups {
		key := fmt.Sprintf("groups[%d]", i)
		name := strings.TrimSpace(g.Name)
		if name == "" {
			k.bad(key+".name", "required")
			continue
		}
		if groups[strings.ToLower(name)] {
			k.bad(key+".name", "duplicate group %s", name)
		}
		groups[strings.ToLower(name)] = true
		out := ticket.Group{Name: name}
		if g.Address != "" {
			if a, err := mail.ParseAddress(g.Address); err != nil {
				k.bad(key+".address", "not an address: %q", g.Address)
			} else {
				out.Address = a.Address
			}
		}
		for j, m := range g.Members {
			if !k.isAgent(m) {
				k.bad(fmt.Sprintf("%s.members[%d]", key, j), "%s is not in agents", m)
				continue
			}
			out.Members = append(out.Members, strings.TrimSpace(m))
		}
		if out.Address == "" && len(out.Members) == 0 {
			k.bad(key, "the group %s has neither an address nor members: nobody would hear of its tickets", name)
		}
		t.Groups = append(t.Groups, out)
	}
	names := map[string]bool{}
	for i, r := range k.c.Routing {
		key := fmt.Sprintf("routing[%d]", i)
		if r.Name == "" {
			r.Name = fmt.Sprintf("rule%d", i+1)
		} else if names[r.Name] {
			k.bad(key+".name", "duplicate rule %s", r.Name)
		}
		names[r.Name] = true
		if r.Group != "" && !groups[strings.ToLower(strings.TrimSpace(r.Group))] {
			k.bad(key+".group", "no group is named %q (see groups)", r.Group)
		}
		if len(r.Match.To)+len(r.Match.Subject)+len(r.Match.Body) == 0 {
			k.bad(key+".match", "empty: a rule without addresses and words would match nothing (default_category is for mail no rule matches)")
		}
		for j, p := range r.Match.To {
			p = strings.ToLower(strings.TrimSpace(p))
			if strings.HasSuffix(p, "@") {
				p += "*"
			}
			if _, err := path.Match(p, ""); err != nil || !strings.Contains(p, "@") {
				k.bad(fmt.Sprintf("%s.match.to[%d]", key, j), "want an address or a pattern like loan@, *+card@example.com, got %q", r.Match.To[j])
			}
		}
		for _, words := range []struct {
			key string
			l   []string
		}{{"subject", r.Match.Subject}, {"body", r.Match.Body}} {
			for j, w := range words.l {
				if strings.TrimSpace(w) == "" {
					k.bad(fmt.Sprintf("%s.match.%s[%d]", key, words.key, j), "empty word")
				}
			}
		}
		t.Routes = append(t.Routes, ticket.Route{Name: r.Name, Category: strings.TrimSpace(r.Category), Group: strings.TrimSpace(r.Group),
			To: r.Match.To, Subject: r.Match.Subject, Body: r.Match.Body})
	}
	t.DefaultCategory = strings.TrimSpace(k.c.DefaultCategory)
	seen := map[string]bool{strings.ToLower(t.Support.Email): true}
	for i, id := range k.c.Center.Identities {
		key := fmt.Sprintf("center.identities[%d]", i)
		a, err := mail.ParseAddress(id.Address)
		if err != nil {
			k.bad(key+".address", "not an address: %q", id.Address)
			continue
		}
		lower := strings.ToLower(a.Address)
		if seen[lower] {
			k.bad(key+".address", "%s is listed twice (the support address always is an identity)", a.Address)
			continue
		}
		seen[lower] = true
		if k.isAgent(a.Address) {
			k.bad(key+".address", "%s is an agent's address", a.Address)
		}
		name := strings.TrimSpace(id.Name)
		if name == "" {
			name = t.CenterName
		}
		t.Identities = append(t.Identities, ticket.Identity{Address: a.Address, Name: name})
	}
}

// isAgent reports whether addr is a configured agent's address.
func (k *checker) isAgent(addr string) bool {
	for _, a := range k.s.Ticket.Agents {
		if ticket.SameMailbox(a.Email, addr) {
			return true
		}
	}
	return false
}

// faq checks the faq section and loads its file.
func (k *checker) faq() {
	f := k.c.FAQ
	if f.Suggest < 1 || f.Suggest > 10 {
		k.bad("faq.suggest", "want 1 to 10, got %d", f.Suggest)
	}
	if f.MinScore < 0 || f.MinScore > 1 {
		k.bad("faq.min_score", "want 0 to 1, got %v", f.MinScore)
	}
	if f.Check <= 0 {
		k.bad("faq.check_every", "must be positive")
	}
	opt := ticket.FAQOptions{Max: max(f.Suggest, 1), MinScore: f.MinScore, Synonyms: map[string]string{}}
	for i, s := range f.Synonyms {
		from, to, ok := strings.Cut(s, "=")
		if from, to = strings.TrimSpace(from), strings.TrimSpace(to); !ok || from == "" || to == "" {
			k.bad(fmt.Sprintf("faq.synonyms[%d]", i), "want \"WRITTEN = FAQ WORD\", got %q", s)
			continue
		}
		opt.Synonyms[from] = to
	}
	k.s.FAQOptions = opt
	if f.File == "" {
		return
	}
	k.s.FAQFile = k.rel(f.File)
	x, err := loadFAQ(k.s.FAQFile, opt)
	if err != nil {
		k.bad("faq.file", "%v", err)
		return
	}
	k.s.FAQ = x
}
