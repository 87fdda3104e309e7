package auth

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/ankurah/ankurah-go/protocol"
)

var secret = []byte("0123456789abcdef0123456789abcdef-test-secret")

// keys are generated once: RSA generation is slow.
var keys = sync.OnceValue(func() struct {
	rsa, rsa2 *rsa.PrivateKey
	ec        *ecdsa.PrivateKey
	ed        ed25519.PrivateKey
} {
	r1, _ := rsa.GenerateKey(rand.Reader, 2048)
	r2, _ := rsa.GenerateKey(rand.Reader, 2048)
	ec, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	_, ed, _ := ed25519.GenerateKey(rand.Reader)
	return struct {
		rsa, rsa2 *rsa.PrivateKey
		ec        *ecdsa.PrivateKey
		ed        ed25519.PrivateKey
	}{r1, r2, ec, ed}
})

var t0 = time.Date(2026, 12, 3, 12, 0, 0, 0, time.UTC)

func claims(mod func(jwt.MapClaims)) jwt.MapClaims {
	c := jwt.MapClaims{"sub": "alice", "exp": t0.Add(time.Hour).Unix(), "iat": t0.Add(-time.Minute).Unix(), "role": "user"}
	if mod != nil {
		mod(c)
	}
	return c
}

func sign(t testing.TB, m jwt.SigningMethod, key any, c jwt.MapClaims, kid string) string {
	t.Helper()
	tok := jwt.NewWithClaims(m, c)
	if kid != "" {
		tok.Header["kid"] = kid
	}
	s, err := tok.SignedString(key)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func writePEM(t testing.TB, pub crypto.PublicKey) string {
	t.Helper()
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "key.pem")
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func verifier(t testing.TB, cfg TokenConfig) *Verifier {
	t.Helper()
	if cfg.Now == nil {
		cfg.Now = func() time.Time { return t0 }
	}
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	v, err := NewVerifier(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func code(err error) string {
	var pe *protocol.Error
	if errors.As(err, &pe) {
		return pe.Code
	}
	return "not coded: " + err.Error()
}

func TestVerifyAcceptsEachAlgorithm(t *testing.T) {
	t.Parallel()
	k := keys()
	v := verifier(t, TokenConfig{
		Secret:         secret,
		PublicKeyFiles: []string{writePEM(t, &k.rsa.PublicKey), writePEM(t, &k.ec.PublicKey), writePEM(t, k.ed.Public())},
		Issuer:         "https://issuer.example", Audience: "ankurah",
	})
	c := claims(func(c jwt.MapClaims) { c["iss"] = "https://issuer.example"; c["aud"] = []string{"other", "ankurah"} })
	for _, tc := range []struct {
		name string
		m    jwt.SigningMethod
		key  any
	}{
		{"HS256", jwt.SigningMethodHS256, secret},
		{"RS256", jwt.SigningMethodRS256, k.rsa},
		{"ES256", jwt.SigningMethodES256, k.ec},
		{"EdDSA", jwt.SigningMethodEdDSA, k.ed},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, err := v.Verify(context.Background(), sign(t, tc.m, tc.key, c, ""))
			if err != nil {
				t.Fatal(err)
			}
			if p.Subject != "alice" || len(p.Roles) != 1 || p.Roles[0] != "user" || !p.Expires.Equal(t0.Add(time.Hour+DefaultClockSkew)) {
				t.Fatalf("principal %+v", p)
			}
		})
	}
}

// Every hostile token is refused with a coded error that does not echo it.
func TestVerifyRefusesHostileTokens(t *testing.T) {
	t.Parallel()
	k := keys()
	rsaPEM := writePEM(t, &k.rsa.PublicKey)
	pemBytes, _ := os.ReadFile(rsaPEM)
	v := verifier(t, TokenConfig{Secret: secret, PublicKeyFiles: []string{rsaPEM}, Audience: "ankurah", Issuer: "iss"})
	vRSAOnly := verifier(t, TokenConfig{PublicKeyFiles: []string{rsaPEM}})
	good := func(mod func(jwt.MapClaims)) jwt.MapClaims {
		return claims(func(c jwt.MapClaims) {
			c["aud"] = "ankurah"
			c["iss"] = "iss"
			if mod != nil {
				mod(c)
			}
		})
	}
	none := func() string {
		s, err := jwt.NewWithClaims(jwt.SigningMethodNone, good(nil)).SignedString(jwt.UnsafeAllowNoneSignatureType)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	cases := []struct {
		name  string
		v     *Verifier
		token string
		code  string
	}{
		{"alg none", v, none(), protocol.CodeUnauthenticated},
		{"alg none, no signature part", v, strings.TrimSuffix(none(), "."), protocol.CodeUnauthenticated},
		{"wrong HMAC key", v, sign(t, jwt.SigningMethodHS256, []byte("another-secret-another-secret-123"), good(nil), ""), protocol.CodeUnauthenticated},
		{"wrong RSA key", v, sign(t, jwt.SigningMethodRS256, k.rsa2, good(nil), ""), protocol.CodeUnauthenticated},
		{"HS256 signed with the RSA public key", v, sign(t, jwt.SigningMethodHS256, pemBytes, good(nil), ""), protocol.CodeUnauthenticated},
		{"HS256 with the public key, server without a secret", vRSAOnly, sign(t, jwt.SigningMethodHS256, pemBytes, claims(nil), ""), protocol.CodeUnauthenticated},
		{"expired", v, sign(t, jwt.SigningMethodHS256, secret, good(func(c jwt.MapClaims) { c["exp"] = t0.Add(-time.Minute).Unix() }), ""), protocol.CodeTokenExpired},
		{"no exp", v, sign(t, jwt.SigningMethodHS256, secret, good(func(c jwt.MapClaims) { delete(c, "exp") }), ""), protocol.CodeUnauthenticated},
		{"not yet valid", v, sign(t, jwt.SigningMethodHS256, secret, good(func(c jwt.MapClaims) { c["nbf"] = t0.Add(time.Hour).Unix() }), ""), protocol.CodeUnauthenticated},
		{"issued in the future", v, sign(t, jwt.SigningMethodHS256, secret, good(func(c jwt.MapClaims) { c["iat"] = t0.Add(time.Hour).Unix() }), ""), protocol.CodeUnauthenticated},
		{"wrong audience", v, sign(t, jwt.SigningMethodHS256, secret, good(func(c jwt.MapClaims) { c["aud"] = "someone-else" }), ""), protocol.CodeUnauthenticated},
		{"no audience", v, sign(t, jwt.SigningMethodHS256, secret, good(func(c jwt.MapClaims) { delete(c, "aud") }), ""), protocol.CodeUnauthenticated},
		{"wrong issuer", v, sign(t, jwt.SigningMethodHS256, secret, good(func(c jwt.MapClaims) { c["iss"] = "evil" }), ""), protocol.CodeUnauthenticated},
		{"no subject", v, sign(t, jwt.SigningMethodHS256, secret, good(func(c jwt.MapClaims) { delete(c, "sub") }), ""), protocol.CodeUnauthenticated},
		{"role claim of numbers", v, sign(t, jwt.SigningMethodHS256, secret, good(func(c jwt.MapClaims) { c["role"] = []any{1, 2} }), ""), protocol.CodeUnauthenticated},
		{"oversized", v, sign(t, jwt.SigningMethodHS256, secret, good(func(c jwt.MapClaims) { c["pad"] = strings.Repeat("x", DefaultMaxTokenBytes) }), ""), protocol.CodeUnauthenticated},
		{"empty", v, "", protocol.CodeUnauthenticated},
		{"garbage", v, "not.a.jwt", protocol.CodeUnauthenticated},
		{"two parts", v, "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0", protocol.CodeUnauthenticated},
		{"bad base64", v, "eyJhbGciOiJIUzI1NiJ9.%%%.xyz", protocol.CodeUnauthenticated},
		{"HS512 not accepted", v, sign(t, jwt.SigningMethodHS512, secret, good(nil), ""), protocol.CodeUnauthenticated},
		{"RS256 header on an HMAC signature", v, forgeAlg(t, sign(t, jwt.SigningMethodHS256, secret, good(nil), ""), "RS256"), protocol.CodeUnauthenticated},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p, err := tc.v.Verify(context.Background(), tc.token)
			if err == nil {
				t.Fatalf("accepted: %+v", p)
			}
			if got := code(err); got != tc.code {
				t.Fatalf("code %s, want %s (%v)", got, tc.code, err)
			}
			if tc.token != "" && strings.Contains(err.Error(), tc.token[:min(len(tc.token), 20)]) {
				t.Fatalf("the error echoes the token: %v", err)
			}
		})
	}
}

// forgeAlg rewrites a token's header alg, keeping its payload and signature.
func forgeAlg(t *testing.T, token, alg string) string {
	parts := strings.Split(token, ".")
	h, _ := json.Marshal(map[string]string{"alg": alg, "typ": "JWT"})
	parts[0] = base64.RawURLEncoding.EncodeToString(h)
	return strings.Join(parts, ".")
}

func TestVerifyClockSkew(t *testing.T) {
	t.Parallel()
	now := t0
	v := verifier(t, TokenConfig{Secret: secret, ClockSkew: 10 * time.Second, Now: func() time.Time { return now }})
	tok := sign(t, jwt.SigningMethodHS256, secret, claims(func(c jwt.MapClaims) { c["exp"] = t0.Add(-5 * time.Second).Unix() }), "")
	if _, err := v.Verify(context.Background(), tok); err != nil {
		t.Fatalf("within the skew: %v", err)
	}
	now = t0.Add(10 * time.Second)
	if _, err := v.Verify(context.Background(), tok); code(err) != protocol.CodeTokenExpired {
		t.Fatalf("past the skew: %v", err)
	}
}

func TestRoleClaimPaths(t *testing.T) {
	t.Parallel()
	v := verifier(t, TokenConfig{Secret: secret, RoleClaim: "realm_access.roles"})
	tok := sign(t, jwt.SigningMethodHS256, secret, claims(func(c jwt.MapClaims) {
		c["realm_access"] = map[string]any{"roles": []string{"admin", "user"}}
	}), "")
	p, err := v.Verify(context.Background(), tok)
	if err != nil || strings.Join(p.Roles, ",") != "admin,user" {
		t.Fatalf("%v %v", p, err)
	}
	// An absent claim is no roles, not an error.
	p, err = v.Verify(context.Background(), sign(t, jwt.SigningMethodHS256, secret, claims(nil), ""))
	if err != nil || len(p.Roles) != 0 {
		t.Fatalf("%v %v", p, err)
	}
}

func TestTokenConfigValidate(t *testing.T) {
	t.Parallel()
	err := TokenConfig{Secret: []byte("short"), JWKSURL: "ftp://x", ClockSkew: -1, RoleClaim: "a..b"}.Validate()
	for _, want := range []string{"at least 32", "not an http(s) URL", "clock skew is negative", "empty step"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("want %q in %v", want, err)
		}
	}
	if err := (TokenConfig{}).Validate(); err == nil || !strings.Contains(err.Error(), "no token keys") {
		t.Errorf("no keys: %v", err)
	}
}

func TestPEMFiles(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	k := keys()
	priv := pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(k.rsa)})
	small, _ := rsa.GenerateKey(rand.Reader, 1024)
	smallDER, _ := x509.MarshalPKIXPublicKey(&small.PublicKey)
	p384, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	p384DER, _ := x509.MarshalPKIXPublicKey(&p384.PublicKey)
	for _, tc := range []struct {
		name, content, want string
	}{
		{"private key", string(priv), "never a private key"},
		{"small RSA", string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: smallDER})), "at least 2048"},
		{"P-384", string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: p384DER})), "needs P-256"},
		{"empty", "hello", "no PEM block"},
	} {
		path := filepath.Join(dir, strings.ReplaceAll(tc.name, " ", "_"))
		os.WriteFile(path, []byte(tc.content), 0o600)
		_, err := NewVerifier(context.Background(), TokenConfig{PublicKeyFiles: []string{path}})
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v", tc.name, err)
		}
	}
}

// jwksServer is a real HTTP server publishing a key set that a test can
// rotate; it counts fetches.
type jwksServer struct {
	*httptest.Server
	mu      sync.Mutex
	set     []byte
	fetches atomic.Int64
}

func newJWKSServer(t *testing.T, keys map[string]crypto.PublicKey) *jwksServer {
	s := &jwksServer{}
	s.publish(t, keys)
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.fetches.Add(1)
		s.mu.Lock()
		defer s.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		w.Write(s.set)
	}))
	t.Cleanup(s.Close)
	return s
}

func (s *jwksServer) publish(t *testing.T, keys map[string]crypto.PublicKey) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.set = jwksJSON(t, keys)
}

// jwksJSON writes a JWK Set by hand from the RFC 7517/7518 fields, so the
// test does not trust the library it checks to produce its input.
func jwksJSON(t *testing.T, keys map[string]crypto.PublicKey) []byte {
	b64 := base64.RawURLEncoding.EncodeToString
	var out []map[string]string
	for kid, k := range keys {
		switch k := k.(type) {
		case *rsa.PublicKey:
			e := []byte{byte(k.E >> 16), byte(k.E >> 8), byte(k.E)}
			for len(e) > 1 && e[0] == 0 {
				e = e[1:]
			}
			out = append(out, map[string]string{"kty": "RSA", "kid": kid, "alg": "RS256", "use": "sig", "n": b64(k.N.Bytes()), "e": b64(e)})
		case *ecdsa.PublicKey:
			ecdh, err := k.ECDH()
			if err != nil {
				t.Fatal(err)
			}
			raw := ecdh.Bytes() // 0x04 || X || Y
			out = append(out, map[string]string{"kty": "EC", "kid": kid, "alg": "ES256", "use": "sig", "crv": "P-256", "x": b64(raw[1:33]), "y": b64(raw[33:])})
		case ed25519.PublicKey:
			out = append(out, map[string]string{"kty": "OKP", "kid": kid, "alg": "EdDSA", "use": "sig", "crv": "Ed25519", "x": b64(k)})
		}
	}
	b, _ := json.Marshal(map[string]any{"keys": out})
	return b
}

// A JWKS URL: keys are fetched at start, a token naming a key the set
// lacks makes the verifier fetch again (the provider rotated its keys),
// and forged kids cannot make it fetch more than once per gap.
func TestJWKSURLRotation(t *testing.T) {
	t.Parallel()
	k := keys()
	srv := newJWKSServer(t, map[string]crypto.PublicKey{"k1": &k.rsa.PublicKey, "ec": &k.ec.PublicKey})
	v := verifier(t, TokenConfig{JWKSURL: srv.URL, JWKSUnknownKeyGap: time.Millisecond, Now: time.Now})
	now := time.Now()
	c := jwt.MapClaims{"sub": "bob", "exp": now.Add(time.Hour).Unix()}
	ctx := context.Background()
	for _, tok := range []string{sign(t, jwt.SigningMethodRS256, k.rsa, c, "k1"), sign(t, jwt.SigningMethodES256, k.ec, c, "ec")} {
		if _, err := v.Verify(ctx, tok); err != nil {
			t.Fatalf("a published key: %v", err)
		}
	}
	// Rotation: k2 replaces k1 at the provider.
	srv.publish(t, map[string]crypto.PublicKey{"k2": &k.rsa2.PublicKey})
	before := srv.fetches.Load()
	if _, err := v.Verify(ctx, sign(t, jwt.SigningMethodRS256, k.rsa2, c, "k2")); err != nil {
		t.Fatalf("a rotated key: %v", err)
	}
	if srv.fetches.Load() == before {
		t.Fatal("the unknown kid did not cause a fetch")
	}
	// A key the provider never published is refused.
	if _, err := v.Verify(ctx, sign(t, jwt.SigningMethodRS256, k.rsa, c, "k1-forged")); code(err) != protocol.CodeUnauthenticated {
		t.Fatalf("an unpublished kid: %v", err)
	}
}

func TestJWKSUnknownKeyGapLimitsFetches(t *testing.T) {
	t.Parallel()
	k := keys()
	srv := newJWKSServer(t, map[string]crypto.PublicKey{"k1": &k.rsa.PublicKey})
	v := verifier(t, TokenConfig{JWKSURL: srv.URL, JWKSUnknownKeyGap: time.Hour, JWKSTimeout: 50 * time.Millisecond, Now: time.Now})
	c := jwt.MapClaims{"sub": "bob", "exp": time.Now().Add(time.Hour).Unix()}
	if _, err := v.Verify(context.Background(), sign(t, jwt.SigningMethodRS256, k.rsa, c, "k1")); err != nil {
		t.Fatal(err)
	}
	start := srv.fetches.Load()
	for i := range 20 {
		_, err := v.Verify(context.Background(), sign(t, jwt.SigningMethodRS256, k.rsa2, c, "forged-"+string(rune('a'+i))))
		if code(err) != protocol.CodeUnauthenticated {
			t.Fatalf("forged kid: %v", err)
		}
	}
	if n := srv.fetches.Load() - start; n > 1 {
		t.Fatalf("%d fetches for 20 forged kids; at most 1 per gap", n)
	}
}

func TestJWKSFile(t *testing.T) {
	t.Parallel()
	k := keys()
	path := filepath.Join(t.TempDir(), "jwks.json")
	os.WriteFile(path, jwksJSON(t, map[string]crypto.PublicKey{"ed": k.ed.Public()}), 0o600)
	v := verifier(t, TokenConfig{JWKSFile: path})
	if _, err := v.Verify(context.Background(), sign(t, jwt.SigningMethodEdDSA, k.ed, claims(nil), "ed")); err != nil {
		t.Fatal(err)
	}
	// Without a kid every key of the set is tried.
	if _, err := v.Verify(context.Background(), sign(t, jwt.SigningMethodEdDSA, k.ed, claims(nil), "")); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(path, []byte(`{"keys": 5}`), 0o600)
	if _, err := NewVerifier(context.Background(), TokenConfig{JWKSFile: path}); err == nil || !strings.Contains(err.Error(), "not a JSON Web Key Set") {
		t.Fatalf("bad JWKS file: %v", err)
	}
}

func BenchmarkVerify(b *testing.B) {
	k := keys()
	v := verifier(b, TokenConfig{Secret: secret, PublicKeyFiles: []string{writePEM(b, &k.rsa.PublicKey)}, Now: time.Now})
	c := jwt.MapClaims{"sub": "alice", "exp": time.Now().Add(time.Hour).Unix()}
	for _, tc := range []struct {
		name string
		tok  string
	}{
		{"HS256", sign(b, jwt.SigningMethodHS256, secret, c, "")},
		{"RS256", sign(b, jwt.SigningMethodRS256, k.rsa, c, "")},
	} {
		b.Run(tc.name, func(b *testing.B) {
			for b.Loop() {
				if _, err := v.Verify(context.Background(), tc.tok); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
