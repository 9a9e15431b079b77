package provider

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/go-jose/go-jose/v4"
	"golang.org/x/sync/singleflight"
)

// signingAlgs are the signatures hubgate accepts on a JWT: public-key ones only, so
// neither "none" nor an HMAC keyed with a public key can pass.
var signingAlgs = []jose.SignatureAlgorithm{
	jose.RS256, jose.RS384, jose.RS512, jose.PS256, jose.PS384, jose.PS512,
	jose.ES256, jose.ES384, jose.ES512, jose.EdDSA,
}

// unknownKeyRefetch is how often a token signed with a key not in the set may make
// hubgate fetch the set again: a stream of made-up kids must not become a stream of
// requests to the provider.
const unknownKeyRefetch = time.Minute

// keySet is an issuer's signing keys (its jwks_uri), fetched on first use, again
// after maxAge, and again for a key it does not know, at most once a minute. It
// implements go-oidc's KeySet, which verifies the claims.
type keySet struct {
	url    string
	client *http.Client
	maxAge time.Duration
	now    func() time.Time

	flight singleflight.Group
	mu     sync.RWMutex
	keys   []jose.JSONWebKey
	// fetched is when keys were last fetched; tried when a fetch was last attempted.
	fetched, tried time.Time
	lastErr        error // of the last fetch
}

func newKeySet(url string, client *http.Client, maxAge time.Duration) *keySet {
	return &keySet{url: url, client: client, maxAge: maxAge, now: time.Now}
}

// errKeysUnavailable marks a signature that could not be checked because the key
// set could not be fetched: nothing is known about the token.
var errKeysUnavailable = errors.New("the issuer's signing keys (jwks_uri) could not be fetched")

// keysErrorKey is a context slot VerifySignature fills when the keys could not be
// fetched, since go-oidc does not keep its KeySet's error wrapped.
type keysErrorKey struct{}

// VerifySignature implements oidc.KeySet.
func (k *keySet) VerifySignature(ctx context.Context, raw string) ([]byte, error) {
	jws, err := jose.ParseSigned(raw, signingAlgs)
	if err != nil {
		return nil, fmt.Errorf("malformed JWT: %w", err)
	}
	if len(jws.Signatures) != 1 {
		return nil, errors.New("a JWT needs exactly one signature")
	}
	kid := jws.Signatures[0].Header.KeyID
	keys, fetchErr := k.current(ctx, false)
	if payload, ok := verifyWith(jws, keys, kid); ok {
		return payload, nil
	}
	if fetchErr == nil && k.mayRefetch() {
		keys, fetchErr = k.current(ctx, true)
		if payload, ok := verifyWith(jws, keys, kid); ok {
			return payload, nil
		}
	}
	if len(keys) == 0 && fetchErr != nil {
		err := fmt.Errorf("%w: %v", errKeysUnavailable, fetchErr)
		// go-oidc wraps this error with %v: the caller learns of it here.
		if slot, ok := ctx.Value(keysErrorKey{}).(*error); ok {
			*slot = err
		}
		return nil, err
	}
	return nil, errors.New("the signature matches none of the issuer's keys")
}

func verifyWith(jws *jose.JSONWebSignature, keys []jose.JSONWebKey, kid string) ([]byte, bool) {
	for i := range keys {
		if kid != "" && keys[i].KeyID != kid {
			continue
		}
		if keys[i].Use != "" && keys[i].Use != "sig" {
			continue
		}
		if payload, err := jws.Verify(&keys[i]); err == nil {
			return payload, true
		}
	}
	return nil, false
}

// mayRefetch says whether an unknown key may trigger a fetch now.
func (k *keySet) mayRefetch() bool {
	k.mu.RLock()
	defer k.mu.RUnlock()
	return k.now().Sub(k.tried) >= unknownKeyRefetch
}

// current is the key set, fetched when it is older than maxAge (or force). A failed
// fetch keeps the keys already known: a provider briefly down does not turn every
// token away.
func (k *keySet) current(ctx context.Context, force bool) ([]jose.JSONWebKey, error) {
	k.mu.RLock()
	keys, fetched := k.keys, k.fetched
	stale := fetched.IsZero() || k.now().Sub(fetched) >= k.maxAge
	k.mu.RUnlock()
	if !force && !stale {
		return keys, nil
	}
	ch := k.flight.DoChan("", func() (any, error) { return nil, k.fetch(context.WithoutCancel(ctx)) })
	select {
	case res := <-ch:
		k.mu.RLock()
		defer k.mu.RUnlock()
		return k.keys, res.Err
	case <-ctx.Done():
		return keys, ctx.Err()
	}
}

func (k *keySet) fetch(ctx context.Context) error {
	k.mu.Lock()
	if !k.tried.IsZero() && k.now().Sub(k.tried) < time.Second {
		// Many callers with a stale set: one fetch a second is plenty, and its
		// outcome stands for them.
		err := k.lastErr
		k.mu.Unlock()
		return err
	}
	k.tried = k.now()
	k.mu.Unlock()
	err := k.fetchNow(ctx)
	k.mu.Lock()
	k.lastErr = err
	k.mu.Unlock()
	return err
}

func (k *keySet) fetchNow(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, k.client.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, k.url, nil)
	if err != nil {
		return err
	}
	resp, err := k.client.Do(req)
	if err != nil {
		return redactURL(err)
	}
	var set struct {
		Keys []json.RawMessage `json:"keys"`
	}
	if err := readJSON(resp, "GET jwks_uri", &set); err != nil {
		return err
	}
	var keys []jose.JSONWebKey
	for _, raw := range set.Keys {
		// A key of a type go-jose does not know (Ed448, secp256k1) is skipped, not
		// taken as a broken set.
		var key jose.JSONWebKey
		if json.Unmarshal(raw, &key) == nil && key.IsPublic() && key.Valid() {
			keys = append(keys, key)
		}
	}
	k.mu.Lock()
	k.keys, k.fetched = keys, k.now()
	k.mu.Unlock()
	return nil
}
