package auth

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/MicahParks/keyfunc/v3"
	"github.com/golang-jwt/jwt/v5"
	"golang.org/x/time/rate"

	"github.com/ankurah/ankurah-go/protocol"
)

// Token defaults.
const (
	DefaultClockSkew         = 30 * time.Second
	DefaultRoleClaim         = "role"
	DefaultMaxTokenBytes     = 8 << 10
	DefaultJWKSRefresh       = time.Hour
	DefaultJWKSUnknownKeyGap = time.Minute
	DefaultJWKSTimeout       = 10 * time.Second
	// MinSecretBytes is the shortest HS256 secret accepted: RFC 7518 §3.2
	// asks for a key at least as long as the hash output.
	MinSecretBytes = 32
)

// TokenConfig says which JSON Web Tokens a server accepts. Every key
// source that is set is used; at least one must be. The zero value of every
// other field means its default.
type TokenConfig struct {
	// Secret is the shared secret of HS256 tokens, at least MinSecretBytes
	// long. Without it, HS256 tokens are refused.
	Secret []byte
	// PublicKeyFiles are PEM files holding public keys (or certificates):
	// RSA for RS256, ECDSA P-256 for ES256, Ed25519 for EdDSA.
	PublicKeyFiles []string
	// JWKSFile is a JSON Web Key Set on disk, read once at start.
	JWKSFile string
	// JWKSURL is where an identity provider publishes its JSON Web Key Set
	// (Auth0, Keycloak, Supabase Auth and other OIDC providers:
	// …/.well-known/jwks.json). It is fetched at start, every JWKSRefresh,
	// and — at most once per JWKSUnknownKeyGap — when a token names a key
	// it does not hold (the provider rotated its keys).
	JWKSURL string
	// JWKSRefresh is how often JWKSURL is fetched again. Default 1h.
	JWKSRefresh time.Duration
	// JWKSUnknownKeyGap is the least time between two fetches caused by
	// unknown key ids, so that forged kids cannot make the server hammer
	// the provider. Default 1m.
	JWKSUnknownKeyGap time.Duration
	// JWKSTimeout bounds one fetch of JWKSURL. Default 10s.
	JWKSTimeout time.Duration
	// Issuer, when set, must equal the token's iss.
	Issuer string
	// Audience, when set, must be one of the token's aud.
	Audience string
	// ClockSkew is the leeway allowed on exp, nbf and iat. Default 30s.
	ClockSkew time.Duration
	// RoleClaim names the claim that holds the principal's roles: a string
	// or an array of strings. A dotted path reaches into objects, e.g.
	// "realm_access.roles" (Keycloak) or "app_metadata.roles". Default
	// "role".
	RoleClaim string
	// MaxTokenBytes is the largest token accepted. Default 8 KiB.
	MaxTokenBytes int
	// Now is the clock; default time.Now. Tests move it.
	Now func() time.Time
	// Logger receives the key fetcher's warnings. Default slog.Default().
	Logger *slog.Logger
}

// WithDefaults returns a copy of c with every unset field set to its default.
func (c TokenConfig) WithDefaults() TokenConfig {
	if c.JWKSRefresh == 0 {
		c.JWKSRefresh = DefaultJWKSRefresh
	}
	if c.JWKSUnknownKeyGap == 0 {
		c.JWKSUnknownKeyGap = DefaultJWKSUnknownKeyGap
	}
	if c.JWKSTimeout == 0 {
		c.JWKSTimeout = DefaultJWKSTimeout
	}
	if c.ClockSkew == 0 {
		c.ClockSkew = DefaultClockSkew
	}
	if c.RoleClaim == "" {
		c.RoleClaim = DefaultRoleClaim
	}
	if c.MaxTokenBytes == 0 {
		c.MaxTokenBytes = DefaultMaxTokenBytes
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	return c
}

// Validate reports every problem with the configuration at once.
func (c TokenConfig) Validate() error {
	var errs []error
	if len(c.Secret) == 0 && len(c.PublicKeyFiles) == 0 && c.JWKSFile == "" && c.JWKSURL == "" {
		errs = append(errs, errors.New("no token keys: set a secret, public key files, a JWKS file or a JWKS URL"))
	}
	if len(c.Secret) > 0 && len(c.Secret) < MinSecretBytes {
		errs = append(errs, fmt.Errorf("the HS256 secret has %d bytes; it needs at least %d (e.g. openssl rand -base64 48)", len(c.Secret), MinSecretBytes))
	}
	if c.JWKSURL != "" {
		u, err := url.Parse(c.JWKSURL)
		if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
			errs = append(errs, fmt.Errorf("the JWKS URL %q is not an http(s) URL", c.JWKSURL))
		}
	}
	for _, d := range []struct {
		name string
		v    time.Duration
	}{{"JWKS refresh", c.JWKSRefresh}, {"JWKS unknown-key gap", c.JWKSUnknownKeyGap}, {"JWKS timeout", c.JWKSTimeout}, {"clock skew", c.ClockSkew}} {
		if d.v < 0 {
			errs = append(errs, fmt.Errorf("%s is negative (%v)", d.name, d.v))
		}
	}
	if c.MaxTokenBytes < 0 {
		errs = append(errs, fmt.Errorf("max token bytes is negative (%d)", c.MaxTokenBytes))
	}
	if c.RoleClaim != "" && strings.Contains("."+c.RoleClaim+".", "..") {
		errs = append(errs, fmt.Errorf("role claim %q has an empty step", c.RoleClaim))
	}
	return errors.Join(errs...)
}

// Verifier checks tokens and turns them into principals. It is safe for
// concurrent use. A Verifier with a JWKS URL fetches keys in a goroutine
// that ends when the context given to NewVerifier ends.
type Verifier struct {
	cfg     TokenConfig
	methods []string
	secret  []byte
	pemKeys map[string][]crypto.PublicKey // by jwt algorithm
	jwks    []keyfunc.Keyfunc             // the file's, then the URL's
	parser  *jwt.Parser
}

// NewVerifier reads the configured keys. With a JWKS URL it starts the
// fetcher, which runs until ctx ends; a first fetch that fails is logged,
// not fatal (tokens that need those keys are refused until a fetch works).
func NewVerifier(ctx context.Context, cfg TokenConfig) (*Verifier, error) {
	cfg = cfg.WithDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	v := &Verifier{cfg: cfg, secret: cfg.Secret, pemKeys: map[string][]crypto.PublicKey{}}
	if len(cfg.Secret) > 0 {
		v.methods = append(v.methods, jwt.SigningMethodHS256.Alg())
	}
	for _, f := range cfg.PublicKeyFiles {
		keys, err := readPEMKeys(f)
		if err != nil {
			return nil, err
		}
		for _, k := range keys {
			alg := algOf(k)
			v.pemKeys[alg] = append(v.pemKeys[alg], k)
		}
	}
	asym := len(v.pemKeys) > 0
	if cfg.JWKSFile != "" {
		raw, err := os.ReadFile(cfg.JWKSFile)
		if err != nil {
			return nil, fmt.Errorf("JWKS file: %w", err)
		}
		kf, err := keyfunc.NewJWKSetJSON(json.RawMessage(raw))
		if err != nil {
			return nil, fmt.Errorf("JWKS file %s: not a JSON Web Key Set: %v", cfg.JWKSFile, unwrapAll(err))
		}
		v.jwks = append(v.jwks, kf)
		asym = true
	}
	if cfg.JWKSURL != "" {
		log := cfg.Logger
		kf, err := keyfunc.NewDefaultOverrideCtx(ctx, []string{cfg.JWKSURL}, keyfunc.Override{
			HTTPTimeout:       cfg.JWKSTimeout,
			RefreshInterval:   cfg.JWKSRefresh,
			RefreshUnknownKID: rate.NewLimiter(rate.Every(cfg.JWKSUnknownKeyGap), 1),
			RateLimitWaitMax:  cfg.JWKSTimeout,
			RefreshErrorHandlerFunc: func(u string) func(context.Context, error) {
				return func(_ context.Context, err error) {
					log.Warn("auth: fetching the JSON Web Key Set failed; tokens signed with keys not yet fetched are refused", "url", u, "err", err)
				}
			},
		})
		if err != nil {
			return nil, fmt.Errorf("JWKS URL: %w", err)
		}
		v.jwks = append(v.jwks, kf)
		asym = true
	}
	if asym {
		v.methods = append(v.methods, jwt.SigningMethodRS256.Alg(), jwt.SigningMethodES256.Alg(), jwt.SigningMethodEdDSA.Alg())
	}
	opts := []jwt.ParserOption{
		jwt.WithValidMethods(v.methods),
		jwt.WithLeeway(cfg.ClockSkew),
		jwt.WithExpirationRequired(),
		jwt.WithIssuedAt(),
		jwt.WithTimeFunc(cfg.Now),
		jwt.WithJSONNumber(),
	}
	if cfg.Issuer != "" {
		opts = append(opts, jwt.WithIssuer(cfg.Issuer))
	}
	if cfg.Audience != "" {
		opts = append(opts, jwt.WithAudience(cfg.Audience))
	}
	v.parser = jwt.NewParser(opts...)
	return v, nil
}

// Verify checks a token (signature, algorithm, exp, nbf, iat, iss, aud and
// size) and returns its principal. Every refusal is a *protocol.Error with
// code unauthenticated, or token_expired for a token that was valid once.
func (v *Verifier) Verify(ctx context.Context, token string) (*Principal, error) {
	if token == "" {
		return nil, protocol.Errorf(protocol.CodeUnauthenticated, "no token: this server needs a signed token in hello")
	}
	if len(token) > v.cfg.MaxTokenBytes {
		return nil, protocol.Errorf(protocol.CodeUnauthenticated, "the token has %d bytes; at most %d are accepted", len(token), v.cfg.MaxTokenBytes)
	}
	claims := jwt.MapClaims{}
	_, err := v.parser.ParseWithClaims(token, claims, func(t *jwt.Token) (any, error) { return v.key(ctx, t) })
	if err != nil {
		return nil, tokenError(err)
	}
	return v.principal(claims)
}

// key picks the verification key for a token: the shared secret for HS256
// only (so that a token "signed" with a public key as an HMAC secret is
// never checked against that key), otherwise the JWKS key its kid names or
// every configured key of its algorithm.
func (v *Verifier) key(ctx context.Context, t *jwt.Token) (any, error) {
	alg := t.Method.Alg()
	if alg == jwt.SigningMethodHS256.Alg() {
		if len(v.secret) == 0 {
			return nil, errNoKey
		}
		return v.secret, nil
	}
	var set jwt.VerificationKeySet
	for _, k := range v.pemKeys[alg] {
		set.Keys = append(set.Keys, k)
	}
	_, hasKID := t.Header["kid"]
	for _, kf := range v.jwks {
		if hasKID {
			if k, err := kf.KeyfuncCtx(ctx)(t); err == nil {
				set.Keys = append(set.Keys, k)
			}
			continue
		}
		all, err := kf.VerificationKeySet(ctx)
		if err == nil {
			set.Keys = append(set.Keys, all.Keys...)
		}
	}
	if len(set.Keys) == 0 {
		return nil, errNoKey
	}
	return set, nil
}

var errNoKey = errors.New("no key for this token")

// tokenError turns a parse failure into the coded error a client sees; the
// message says what is wrong without echoing the token.
func tokenError(err error) *protocol.Error {
	switch {
	case errors.Is(err, jwt.ErrTokenExpired):
		return protocol.Errorf(protocol.CodeTokenExpired, "the token has expired; get a new one and reconnect (or refresh it)")
	case errors.Is(err, jwt.ErrTokenNotValidYet), errors.Is(err, jwt.ErrTokenUsedBeforeIssued):
		return protocol.Errorf(protocol.CodeUnauthenticated, "the token is not valid yet (nbf or iat is in the future)")
	case errors.Is(err, jwt.ErrTokenRequiredClaimMissing):
		return protocol.Errorf(protocol.CodeUnauthenticated, "the token lacks a required claim (exp)")
	case errors.Is(err, jwt.ErrTokenInvalidAudience):
		return protocol.Errorf(protocol.CodeUnauthenticated, "the token is meant for another audience (aud)")
	case errors.Is(err, jwt.ErrTokenInvalidIssuer):
		return protocol.Errorf(protocol.CodeUnauthenticated, "the token comes from another issuer (iss)")
	case errors.Is(err, jwt.ErrTokenSignatureInvalid), errors.Is(err, errNoKey), errors.Is(err, jwt.ErrTokenUnverifiable):
		return protocol.Errorf(protocol.CodeUnauthenticated, "the token's signature does not verify with this server's keys, or its algorithm is not accepted")
	case errors.Is(err, jwt.ErrTokenMalformed):
		return protocol.Errorf(protocol.CodeUnauthenticated, "the token is malformed (not a signed JWT)")
	}
	return protocol.Errorf(protocol.CodeUnauthenticated, "the token is not valid")
}

// principal reads the subject, roles and expiry from verified claims.
func (v *Verifier) principal(claims jwt.MapClaims) (*Principal, error) {
	sub, err := claims.GetSubject()
	if err != nil || sub == "" {
		return nil, protocol.Errorf(protocol.CodeUnauthenticated, "the token has no subject (sub)")
	}
	roles, err := rolesOf(claims, v.cfg.RoleClaim)
	if err != nil {
		return nil, protocol.Errorf(protocol.CodeUnauthenticated, "%v", err)
	}
	p := &Principal{Subject: sub, Roles: roles, Claims: map[string]any(claims)}
	if exp, err := claims.GetExpirationTime(); err == nil && exp != nil {
		p.Expires = exp.Time.Add(v.cfg.ClockSkew)
	}
	return p, nil
}

// rolesOf reads the role claim: absent is no roles; a string is one role;
// an array must hold only strings.
func rolesOf(claims map[string]any, path string) ([]string, error) {
	var cur any = claims
	for _, step := range strings.Split(path, ".") {
		m, ok := cur.(map[string]any)
		if !ok {
			return nil, nil
		}
		if cur, ok = m[step]; !ok {
			return nil, nil
		}
	}
	switch r := cur.(type) {
	case nil:
		return nil, nil
	case string:
		return []string{r}, nil
	case []any:
		out := make([]string, 0, len(r))
		for _, x := range r {
			s, ok := x.(string)
			if !ok {
				return nil, fmt.Errorf("the role claim %s holds a non-string element", path)
			}
			out = append(out, s)
		}
		return out, nil
	}
	return nil, fmt.Errorf("the role claim %s is neither a string nor an array of strings", path)
}

// readPEMKeys reads every public key or certificate of a PEM file.
func readPEMKeys(path string) ([]crypto.PublicKey, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("public key file: %w", err)
	}
	var keys []crypto.PublicKey
	for {
		var block *pem.Block
		block, raw = pem.Decode(raw)
		if block == nil {
			break
		}
		var k any
		switch block.Type {
		case "PUBLIC KEY":
			k, err = x509.ParsePKIXPublicKey(block.Bytes)
		case "RSA PUBLIC KEY":
			k, err = x509.ParsePKCS1PublicKey(block.Bytes)
		case "CERTIFICATE":
			var c *x509.Certificate
			if c, err = x509.ParseCertificate(block.Bytes); err == nil {
				k = c.PublicKey
			}
		default:
			return nil, fmt.Errorf("public key file %s: a %q block; want PUBLIC KEY, RSA PUBLIC KEY or CERTIFICATE (never a private key)", path, block.Type)
		}
		if err != nil {
			return nil, fmt.Errorf("public key file %s: %v", path, err)
		}
		switch k := k.(type) {
		case *rsa.PublicKey:
			if k.N.BitLen() < 2048 {
				return nil, fmt.Errorf("public key file %s: an RSA key of %d bits; at least 2048 are needed", path, k.N.BitLen())
			}
		case *ecdsa.PublicKey:
			if k.Curve != elliptic.P256() {
				return nil, fmt.Errorf("public key file %s: an ECDSA key on %s; ES256 needs P-256", path, k.Curve.Params().Name)
			}
		case ed25519.PublicKey:
		default:
			return nil, fmt.Errorf("public key file %s: a %T key; want RSA, ECDSA P-256 or Ed25519", path, k)
		}
		keys = append(keys, k)
	}
	if len(keys) == 0 {
		return nil, fmt.Errorf("public key file %s holds no PEM block", path)
	}
	return keys, nil
}

// algOf is the JWT algorithm a public key verifies.
func algOf(k crypto.PublicKey) string {
	switch k.(type) {
	case *rsa.PublicKey:
		return jwt.SigningMethodRS256.Alg()
	case *ecdsa.PublicKey:
		return jwt.SigningMethodES256.Alg()
	}
	return jwt.SigningMethodEdDSA.Alg()
}

func unwrapAll(err error) error {
	for {
		u := errors.Unwrap(err)
		if u == nil {
			return err
		}
		err = u
	}
}
