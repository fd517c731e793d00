package main

import (
	"errors"
	"fmt"
	"reflect"
	"sort"
	"strings"

	"gopkg.in/yaml.v3"
)

// checkYAML reads the YAML tree of a config file against the structs and
// returns every problem at once, each as "key.path: what is wrong (line
// N)": keys that do not exist (with the nearest known one), values of the
// wrong kind. yaml.v3's strict decoder stops at the first and names Go
// types; this is what an operator reads instead.
func checkYAML(doc *yaml.Node) []error {
	if doc.Kind == yaml.DocumentNode && len(doc.Content) > 0 {
		doc = doc.Content[0]
	}
	if doc.Kind == 0 || doc.Tag == "!!null" {
		return nil
	}
	var errs []error
	checkNode(reflect.TypeOf(Config{}), doc, "", &errs)
	return errs
}

func checkNode(t reflect.Type, n *yaml.Node, path string, errs *[]error) {
	add := func(n *yaml.Node, format string, args ...any) {
		key := strings.TrimSuffix(path, ".")
		if key == "" {
			key = "(top level)"
		}
		*errs = append(*errs, fmt.Errorf("%s: %s (line %d)", key, fmt.Sprintf(format, args...), n.Line))
	}
	for n.Kind == yaml.AliasNode && n.Alias != nil {
		n = n.Alias // "*name": the anchored node
	}
	if n.Tag == "!!null" {
		return
	}
	switch {
	case t.Kind() == reflect.Struct && t != durationType:
		if n.Kind != yaml.MappingNode {
			add(n, "want a section of keys, got %s", describe(n))
			return
		}
		fields := configFields(t)
		byKey := map[string]configField{}
		var keys []string
		for _, f := range fields {
			byKey[f.key] = f
			keys = append(keys, f.key)
		}
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			if k.Value == "<<" && k.Tag == "!!merge" {
				// "<<: *defaults": the merged section's keys are this one's.
				checkNode(t, v, path, errs)
				continue
			}
			f, ok := byKey[k.Value]
			if !ok {
				msg := "unknown key"
				if near := nearestKey(k.Value, keys); near != "" {
					msg += fmt.Sprintf("; did you mean %q?", near)
				}
				*errs = append(*errs, fmt.Errorf("%s%s: %s (line %d)", path, k.Value, msg, k.Line))
				continue
			}
			checkNode(f.typ, v, path+k.Value+".", errs)
		}
	case t.Kind() == reflect.Slice && t.Elem().Kind() == reflect.Struct:
		if n.Kind != yaml.SequenceNode {
			add(n, "want a list, got %s", describe(n))
			return
		}
		base := strings.TrimSuffix(path, ".")
		for i, item := range n.Content {
			checkNode(t.Elem(), item, fmt.Sprintf("%s[%d].", base, i), errs)
		}
	default:
		if err := n.Decode(reflect.New(t).Interface()); err != nil {
			add(n, "%s", plainYAMLError(err, t, n))
		}
	}
}

// describe names the kind of a YAML node as the file shows it.
func describe(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a section"
	case yaml.SequenceNode:
		return "a list"
	}
	return fmt.Sprintf("%q", n.Value)
}

// plainYAMLError says what a value should be, in words rather than Go
// types.
func plainYAMLError(err error, t reflect.Type, n *yaml.Node) string {
	var te *yaml.TypeError
	if !errors.As(err, &te) {
		msg := strings.TrimPrefix(err.Error(), "yaml: ")
		if i := strings.Index(msg, ": "); strings.HasPrefix(msg, "line ") && i > 0 {
			msg = msg[i+2:] // the line is said once, at the end
		}
		return msg
	}
	want := map[reflect.Kind]string{
		reflect.Bool: "true or false", reflect.String: "a text", reflect.Int: "a whole number", reflect.Int64: "a whole number",
		reflect.Uint: "a whole number", reflect.Uint16: "a whole number", reflect.Uint32: "a whole number",
		reflect.Uint64: "a whole number", reflect.Float64: "a number", reflect.Slice: "a list", reflect.Map: "a section",
	}[t.Kind()]
	if want == "" {
		want = "another kind of value"
	}
	return fmt.Sprintf("want %s, got %s", want, describe(n))
}

// nearestKey returns the known key nearest to k (at most two edits, or
// the same letters with "_" and "-" mixed up), or "".
func nearestKey(k string, keys []string) string {
	sort.Strings(keys)
	best, bestD := "", 3
	norm := func(s string) string { return strings.ReplaceAll(strings.ToLower(s), "-", "_") }
	for _, c := range keys {
		if norm(c) == norm(k) {
			return c
		}
		if d := editDistance(k, c); d < bestD {
			best, bestD = c, d
		}
	}
	return best
}

// editDistance is the Levenshtein distance of a and b.
func editDistance(a, b string) int {
	ra, rb := []rune(a), []rune(b)
	prev := make([]int, len(rb)+1)
	cur := make([]int, len(rb)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(ra); i++ {
		cur[0] = i
		for j := 1; j <= len(rb); j++ {
			cost := 1
			if ra[i-1] == rb[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(rb)]
}
