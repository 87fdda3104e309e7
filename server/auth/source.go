package auth

// Source gives the policy in force. PolicyFileSource reloads one from a
// file; Static holds one.
type Source interface {
	// Policy returns the policy in force.
	Policy() *Policy
	// Version changes exactly when Policy does.
	Version() uint64
	// Changed returns a channel closed when the policy next changes.
	Changed() <-chan struct{}
}

// Static returns a Source that always gives p.
func Static(p *Policy) Source { return staticSource{p} }

type staticSource struct{ p *Policy }

func (s staticSource) Policy() *Policy          { return s.p }
func (s staticSource) Version() uint64          { return 1 }
func (s staticSource) Changed() <-chan struct{} { return nil }

// AllowAll is the policy of a server without one: every connection, with
// or without a token, may read and write everything and change the schema.
// It is for local development only; docs/security.md says why.
func AllowAll() *Policy {
	all := "true"
	p, err := CompilePolicy(PolicyFile{
		DefaultRole:   "anyone",
		AnonymousRole: "anyone",
		Roles: map[string]RoleRules{"anyone": {Schema: true, Collections: map[string]CollectionRules{
			AnyCollection: {Read: &all, Write: &all},
		}}},
	})
	if err != nil {
		panic(err) // a constant policy
	}
	p.allowAll = true
	return p
}

// IsAllowAll reports whether p is AllowAll's.
func (p *Policy) IsAllowAll() bool { return p.allowAll }
