package session

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
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
// a ticket decoded from a cookie is remembered (decodedTickets): a request then costs
// one GET, one AES-GCM open and the session's JSON.
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

// readTicket decodes the request's session cookie as a ticket. Anything else (no
// cookie, a forged or old one, one from the cookie store) is no ticket.
func (s *Store) readTicket(r *http.Request) (*ticket, bool) {
	value, ok := cookieValue(r, s.name)
	if !ok {
		return nil, false
	}
	now := time.Now().Unix()
	if t, ok := s.decodedTickets.get(value, now); ok {
		return t, true
	}
	var tc ticketCookie
	if err := securecookie.DecodeMulti(s.name, value, &tc, s.tickets...); err != nil {
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
	if stamp, ok := cookieTimestamp(value); ok && s.expire > 0 {
		// The codec refuses a cookie once now > stamp + MaxAge. The session's own end
		// is in Redis, checked on every Load.
		s.decodedTickets.put(value, t, stamp+int64(s.expire/time.Second)+1)
	}
	return t, true
}

func (s *Store) loadServer(r *http.Request) (Session, bool, error) {
	t, ok := s.readTicket(r)
	if !ok {
		return Session{}, false, nil // no Redis call for a request without a ticket
	}
	ctx, cancel := context.WithTimeout(r.Context(), redisTimeout)
	defer cancel()
	sealed, err := s.rdb.Get(ctx, t.rkey).Bytes()
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

func (s *Store) saveServer(ctx context.Context, w http.ResponseWriter, sess Session, secure bool) error {
	ttl := time.Until(time.Unix(sess.Expires, 0))
	if ttl <= 0 {
		// Already over: like the cookie store, this deletes it.
		if sess.ticket != nil {
			if err := s.del(ctx, sess.ticket); err != nil {
				return err
			}
		}
		http.SetCookie(w, s.cookie(s.name, "", -1, secure))
		return nil
	}
	t, rewrite := sess.ticket, sess.ticket != nil
	if !rewrite {
		t = newTicket()
	}
	value, err := securecookie.EncodeMulti(s.name, ticketCookie{ID: t.id[:], Key: t.key[:]}, s.tickets...)
	if err != nil {
		return fmt.Errorf("session: encode ticket: %w", err)
	}
	sealed, err := t.seal(sess)
	if err != nil {
		return fmt.Errorf("session: seal: %w", err)
	}
	ctx, cancel := context.WithTimeout(ctx, redisTimeout)
	defer cancel()
	if rewrite {
		// XX: only if it still exists, so a refresh racing a sign-out does not
		// bring the session back.
		stored, err := s.rdb.SetXX(ctx, t.rkey, sealed, ttl).Result()
		if err != nil {
			return unavailable("SET", err)
		}
		if !stored {
			return ErrEnded
		}
	} else if err := s.rdb.Set(ctx, t.rkey, sealed, ttl).Err(); err != nil {
		return unavailable("SET", err)
	}
	http.SetCookie(w, s.cookie(s.name, value, ttl, secure))
	return nil
}

// Revoke deletes the server-side session the request's cookie names, if any, and
// leaves the cookie alone. A login calls it before saving the new session, so a
// session planted in the browser beforehand (fixation) or left over ends there.
// Without Redis there is nothing to delete.
func (s *Store) Revoke(ctx context.Context, r *http.Request) error {
	if s.rdb == nil {
		return nil
	}
	t, ok := s.readTicket(r)
	if !ok {
		return nil
	}
	return s.del(ctx, t)
}

func (s *Store) del(ctx context.Context, t *ticket) error {
	ctx, cancel := context.WithTimeout(ctx, redisTimeout)
	defer cancel()
	if err := s.rdb.Del(ctx, t.rkey).Err(); err != nil {
		return unavailable("DEL", err)
	}
	return nil
}

// Ready reports whether the store can answer: a PING with Redis, always with cookies.
func (s *Store) Ready(ctx context.Context) error {
	if s.rdb == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, redisTimeout)
	defer cancel()
	if err := s.rdb.Ping(ctx).Err(); err != nil {
		return unavailable("PING", err)
	}
	return nil
}
