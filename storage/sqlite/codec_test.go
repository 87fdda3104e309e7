package sqlite

import (
	"fmt"
	"testing"

	"github.com/ankurah/ankurah-go/event"
)

func TestParseHead(t *testing.T) {
	a, b := event.NewID(), event.NewID()
	as, bs := a.String(), b.String()
	for _, tc := range []struct {
		in   string
		want event.Head
		bad  bool
	}{
		{in: `[]`, want: event.Head{}},
		{in: `["` + as + `"]`, want: event.Head{a}},
		{in: `["` + as + `","` + bs + `"]`, want: event.Head{a, b}},
		{in: `["` + bs + `","` + as + `"]`, want: event.Head{a, b}},       // sorted on read
		{in: ` [ "` + as + `" , "` + bs + `" ] `, want: event.Head{a, b}}, // hand-edited: slow path
		{in: `["` + as + `",]`, bad: true},
		{in: `["` + as + `""` + bs + `"]`, bad: true},
		{in: `["` + as + `"`, bad: true},
		{in: `["` + as + `"]x`, bad: true},
		{in: `["not an id"]`, bad: true},
		{in: `{}`, bad: true},
		{in: ``, bad: true},
	} {
		got, err := parseHead(tc.in)
		if tc.bad {
			if err == nil {
				t.Errorf("parseHead(%q) = %v, want an error", tc.in, got)
			}
			continue
		}
		if err != nil || !got.Equal(tc.want) {
			t.Errorf("parseHead(%q) = %v, %v; want %v", tc.in, got, err, tc.want)
		}
		if err == nil && !tc.bad && len(got) > 0 && tc.in[0] == '[' {
			if again, _ := parseHead(idsJSON(got)); !again.Equal(got) {
				t.Errorf("round trip of %v: %v", got, again)
			}
		}
	}
}

func TestParseVersions(t *testing.T) {
	a, b := event.NewID(), event.NewID()
	as, bs := a.String(), b.String()
	for _, tc := range []struct {
		in   string
		want map[string]event.ID
		bad  bool
	}{
		{in: `{}`, want: map[string]event.ID{}},
		{in: `{"name":"` + as + `"}`, want: map[string]event.ID{"name": a}},
		{in: `{"name":"` + as + `","year_2":"` + bs + `"}`, want: map[string]event.ID{"name": a, "year_2": b}},
		{in: `{ "name" : "` + as + `" }`, want: map[string]event.ID{"name": a}},
		{in: `{"na\u006de":"` + as + `"}`, want: map[string]event.ID{"name": a}},
		{in: `{"name":"` + as + `",}`, bad: true},
		{in: `{"name""` + as + `"}`, bad: true},
		{in: `{"name":"x"}`, bad: true},
		{in: `[]`, bad: true},
	} {
		got, err := parseVersions(tc.in)
		if tc.bad {
			if err == nil {
				t.Errorf("parseVersions(%q) = %v, want an error", tc.in, got)
			}
			continue
		}
		if err != nil || fmt.Sprint(got) != fmt.Sprint(tc.want) {
			t.Errorf("parseVersions(%q) = %v, %v; want %v", tc.in, got, err, tc.want)
		}
		if again, err := parseVersions(string(appendVersions(nil, got))); err != nil || fmt.Sprint(again) != fmt.Sprint(got) {
			t.Errorf("round trip of %v: %v %v", got, again, err)
		}
	}
}
