package session

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/gorilla/securecookie"
	"github.com/redis/go-redis/v9"

	"github.com/hubgate/hubgate/internal/seal"
)

// With Redis, the session cookie carries only a ticket: a random ID that finds the
// session in Redis and a random key that decrypts it there. Neither is stored in
// Redis (the key name is a hash of the ID), so a copy of Redis alone reveals no
// token and names no cookie. Every Load is one GET, never cached here: a sign-out
// must end the session on every replica at once.

// redisKeyPrefix namespaces hubgate's sessions in a Redis shared with other data.
const redisKeyPrefix = "hubgate:session:"

// redisTimeout bounds each call, over the client's own 1 s timeouts (and its one
// retry): a Redis that does not answer must be a quick 503, not a hung request.
const redisTimeout = 2 * time.Second

// ticket names one server-side session. Its Redis key and cipher are made once, and
// a ticket decoded from a cookie is remembered (redisBackend.decoded): a request then
// costs one GET, one AES-GCM open and the session's JSON.
type ticket struct {
	id, key [32]byte
	rkey    string
	box     *seal.Box // safe for concurrent use
}

// ready fills in the Redis key and the cipher.
func (t *ticket) ready() (*ticket, error) {
	sum := sha256.Sum256(t.id[:])
	t.rkey = redisKeyPrefix + hex.EncodeToString(sum[:])
	box, err := seal.New(t.key[:])
	if err != nil {
		return nil, err
	}
	t.box = box
	return t, nil
}

// ticketCookie is a ticket as the session cookie's JSON, itself signed and
// encrypted with the cookie secrets.
type ticketCookie struct {
	ID  []byte `json:"i"`
	Key []byte `json:"k"`
}

func newTicket() *ticket {
	t := &ticket{}
	rand.Read(t.id[:])
	rand.Read(t.key[:])
	t, err := t.ready()
	if err != nil {
		panic(err) // a 32-byte key always makes an AES-256 cipher
	}
	return t
}

// seal encrypts a session with the ticket's key. No associated data: the key is
// the ticket's own, so a value moved to another ticket's entry does not open there
// either, and sessions sealed by earlier versions still open.
func (t *ticket) seal(sess Session) ([]byte, error) {
	plain, err := json.Marshal(sess)
	if err != nil {
		return nil, err
	}
	return t.box.Seal(plain, nil), nil
}

func (t *ticket) open(sealed []byte) (Session, error) {
	plain, err := t.box.Open(sealed, nil)
	if err != nil {
		return Session{}, err
	}
	var sess Session
	err = json.Unmarshal(plain, &sess)
	return sess, err
}

// unavailable wraps a Redis failure so callers can tell it from "no session".
func unavailable(op string, err error) error {
	return fmt.Errorf("%w: redis %s: %w", ErrUnavailable, op, err)
}

// redisBackend keeps the session in Redis, sealed with its ticket's key; the cookie
// holds the ticket, signed and encrypted with the cookie secrets (codecs, with keys
// of their own).
type redisBackend struct {
	name    string
	expire  time.Duration
	rdb     *redis.Client
	codecs  []securecookie.Codec
	decoded decodedValues[*ticket]
}

// readTicket decodes the session cookie's value as a ticket. Anything else (a forged
// or old one, one from the cookie store) is no ticket.
func (b *redisBackend) readTicket(value string) (*ticket, bool) {
	now := time.Now().Unix()
	if t, ok := b.decoded.get(value, now); ok {
		return t, true
	}
	var tc ticketCookie
	if err := securecookie.DecodeMulti(b.name, value, &tc, b.codecs...); err != nil {
		return nil, false
	}
	t := &ticket{}
	if len(tc.ID) != len(t.id) || len(tc.Key) != len(t.key) {
		return nil, false
	}
	copy(t.id[:], tc.ID)
	copy(t.key[:], tc.Key)
	t, err := t.ready()
	if err != nil {
		return nil, false
	}
	if stamp, ok := cookieTimestamp(value); ok && b.expire > 0 {
		// The codec refuses a cookie once now > stamp + MaxAge. The session's own end
		// is in Redis, checked on every Load.
		b.decoded.put(value, t, stamp+int64(b.expire/time.Second)+1)
	}
	return t, true
}

func (b *redisBackend) load(ctx context.Context, value string) (Session, bool, error) {
	t, ok := b.readTicket(value)
	if !ok {
		return Session{}, false, nil // no Redis call for a cookie that is no ticket
	}
	ctx, cancel := context.WithTimeout(ctx, redisTimeout)
	defer cancel()
	sealed, err := b.rdb.Get(ctx, t.rkey).Bytes()
	if errors.Is(err, redis.Nil) {
		return Session{}, false, nil // signed out, or expired
	}
	if err != nil {
		return Session{}, false, unavailable("GET", err)
	}
	sess, err := t.open(sealed)
	if err != nil || sess.AccessToken == "" || time.Now().Unix() >= sess.Expires {
		return Session{}, false, nil
	}
	sess.ticket = t
	return sess, true, nil
}

// save writes the session under its ticket (a new one for a session from Start) and
// returns the ticket as the cookie. A session already over is deleted, and the
// cookie expired, as the cookie store does.
func (b *redisBackend) save(ctx context.Context, sess Session) (string, time.Duration, error) {
	ttl := time.Until(time.Unix(sess.Expires, 0))
	if ttl <= 0 {
		if sess.ticket != nil {
			if err := b.del(ctx, sess.ticket); err != nil {
				return "", 0, err
			}
		}
		return "", -1, nil
	}
	t, rewrite := sess.ticket, sess.ticket != nil
	if !rewrite {
		t = newTicket()
	}
	value, err := securecookie.EncodeMulti(b.name, ticketCookie{ID: t.id[:], Key: t.key[:]}, b.codecs...)
	if err != nil {
		return "", 0, fmt.Errorf("session: encode ticket: %w", err)
	}
	sealed, err := t.seal(sess)
	if err != nil {
		return "", 0, fmt.Errorf("session: seal: %w", err)
	}
	ctx, cancel := context.WithTimeout(ctx, redisTimeout)
	defer cancel()
	if rewrite {
		// XX: only if it still exists, so a refresh racing a sign-out does not
		// bring the session back.
		stored, err := b.rdb.SetXX(ctx, t.rkey, sealed, ttl).Result()
		if err != nil {
			return "", 0, unavailable("SET", err)
		}
		if !stored {
			return "", 0, ErrEnded
		}
	} else if err := b.rdb.Set(ctx, t.rkey, sealed, ttl).Err(); err != nil {
		return "", 0, unavailable("SET", err)
	}
	return value, ttl, nil
}

func (b *redisBackend) revoke(ctx context.Context, value string) error {
	t, ok := b.readTicket(value)
	if !ok {
		return nil
	}
	return b.del(ctx, t)
}

func (b *redisBackend) del(ctx context.Context, t *ticket) error {
	ctx, cancel := context.WithTimeout(ctx, redisTimeout)
	defer cancel()
	if err := b.rdb.Del(ctx, t.rkey).Err(); err != nil {
		return unavailable("DEL", err)
	}
	return nil
}

// ready PINGs Redis.
func (b *redisBackend) ready(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, redisTimeout)
	defer cancel()
	if err := b.rdb.Ping(ctx).Err(); err != nil {
		return unavailable("PING", err)
	}
	return nil
}
