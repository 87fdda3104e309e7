package model_test

import (
	"os"
	"testing"

	"github.com/ankurah/ankurah-go/protocol"
	"github.com/ankurah/ankurah-go/query"
	"github.com/ankurah/ankurah-go/server/auth"
	"github.com/ankurah/ankurah-go/value"
)

// album is a record of the album collection for the policy's rules.
type album map[string]value.Value

func (a album) Get(f string) value.Value { return a[f] }

// asRecord is nil for no state (a creation's before, a deletion's after).
func asRecord(a album) query.Record {
	if a == nil {
		return nil
	}
	return a
}

func owned(owner string, public bool) album {
	return album{"owner": value.TextOf(owner), "public": value.BoolOf(public)}
}

// The example's policy (../policy.json, which make e2e serves): users read
// public albums and their own and write their own; admins do anything,
// schema changes included.
func TestExamplePolicy(t *testing.T) {
	data, err := os.ReadFile("../policy.json")
	if err != nil {
		t.Fatal(err)
	}
	p, err := auth.ParsePolicy(data)
	if err != nil {
		t.Fatal(err)
	}
	alice, err := p.Grant(&auth.Principal{Subject: "alice", Roles: []string{"user"}, Claims: map[string]any{"sub": "alice", "role": "user"}}, "album")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		rec  album
		want bool
	}{
		{"her private album", owned("alice", false), true},
		{"another's public album", owned("bob", true), true},
		{"another's private album", owned("bob", false), false},
		{"nobody's, public unset", album{"owner": value.Value{}}, false},
	} {
		if got := alice.Readable(tc.rec); got != tc.want {
			t.Errorf("alice reads %s: %v, want %v", tc.name, got, tc.want)
		}
	}
	code := func(err error) string {
		if err == nil {
			return "ok"
		}
		return err.(*protocol.Error).Code
	}
	for _, tc := range []struct {
		name          string
		before, after album
		want          string
	}{
		{"create her own", nil, owned("alice", false), "ok"},
		{"make hers public", owned("alice", false), owned("alice", true), "ok"},
		{"create one for bob", nil, owned("bob", false), protocol.CodePermissionDenied},
		{"edit bob's public album", owned("bob", true), owned("bob", true), protocol.CodePermissionDenied},
		{"give hers to bob", owned("alice", true), owned("bob", true), protocol.CodePermissionDenied},
	} {
		if got := code(alice.CheckWrite(asRecord(tc.before), asRecord(tc.after), []string{"name"})); got != tc.want {
			t.Errorf("alice may %s: %s, want %s", tc.name, got, tc.want)
		}
	}
	if alice.CanChangeSchema() {
		t.Error("a user may change the schema")
	}
	admin, err := p.Grant(&auth.Principal{Subject: "root", Roles: []string{"admin"}, Claims: map[string]any{"sub": "root", "role": "admin"}}, "album")
	if err != nil {
		t.Fatal(err)
	}
	if !admin.CanChangeSchema() || !admin.Readable(owned("bob", false)) || admin.CheckWrite(owned("bob", false), owned("carol", false), nil) != nil {
		t.Error("the admin may not do everything")
	}
}
