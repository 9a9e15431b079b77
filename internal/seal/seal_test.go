package seal

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"errors"
	"testing"
)

func TestSealOpens(t *testing.T) {
	b := Derive([]byte("a token"), []byte("a secret"), "test v1")
	sealed := b.Seal([]byte("the plain text"), []byte("hubgate:user:abc"))
	plain, err := b.Open(sealed, []byte("hubgate:user:abc"))
	if err != nil || string(plain) != "the plain text" {
		t.Fatalf("Open = %q, %v", plain, err)
	}
	if again := b.Seal([]byte("the plain text"), []byte("hubgate:user:abc")); bytes.Equal(again, sealed) {
		t.Error("two seals of one value are identical: the nonce is not random")
	}
	if bytes.Contains(sealed, []byte("plain")) {
		t.Error("the sealed value shows the plain text")
	}
}

// Every way an attacker with write access to the store could alter a value fails.
func TestOpenRefuses(t *testing.T) {
	b := Derive([]byte("a token"), []byte("a secret"), "test v1")
	ad := []byte("hubgate:user:abc")
	sealed := b.Seal([]byte("the plain text"), ad)
	flipped := func(i int) []byte {
		v := bytes.Clone(sealed)
		v[i] ^= 1
		return v
	}
	cases := map[string]struct {
		box    *Box
		sealed []byte
		ad     []byte
	}{
		"nonce tampered":         {b, flipped(0), ad},
		"ciphertext tampered":    {b, flipped(14), ad},
		"tag tampered":           {b, flipped(len(sealed) - 1), ad},
		"truncated":              {b, sealed[:len(sealed)-1], ad},
		"too short":              {b, sealed[:11], ad},
		"empty":                  {b, nil, ad},
		"extended":               {b, append(bytes.Clone(sealed), 0), ad},
		"wrong associated data":  {b, sealed, []byte("hubgate:user:abd")},
		"no associated data":     {b, sealed, nil},
		"wrong token":            {Derive([]byte("a tokem"), []byte("a secret"), "test v1"), sealed, ad},
		"wrong secret":           {Derive([]byte("a token"), []byte("another secret"), "test v1"), sealed, ad},
		"wrong purpose":          {Derive([]byte("a token"), []byte("a secret"), "test v2"), sealed, ad},
		"wrong raw key":          {mustNew(t, bytes.Repeat([]byte{7}, KeySize)), sealed, ad},
		"associated data as key": {b, b.Seal([]byte("x"), nil), ad},
	}
	for name, c := range cases {
		if plain, err := c.box.Open(c.sealed, c.ad); !errors.Is(err, ErrOpen) || plain != nil {
			t.Errorf("%s: Open = %q, %v; want ErrOpen", name, plain, err)
		}
	}
}

// Values sealed before this package existed (nonce ‖ ciphertext, by hand) still open:
// an upgrade does not end the sessions and cached answers in Redis.
func TestOpensTheEarlierFormat(t *testing.T) {
	key := DeriveKey([]byte("a token"), nil, "test v1")
	block, _ := aes.NewCipher(key)
	gcm, _ := cipher.NewGCM(block)
	nonce := bytes.Repeat([]byte{3}, gcm.NonceSize())
	old := gcm.Seal(bytes.Clone(nonce), nonce, []byte("from before"), []byte("ad"))
	plain, err := mustNew(t, key).Open(old, []byte("ad"))
	if err != nil || string(plain) != "from before" {
		t.Fatalf("Open(earlier format) = %q, %v", plain, err)
	}
}

func TestNewRefusesAShortKey(t *testing.T) {
	if _, err := New(make([]byte, 16)); err == nil {
		t.Error("New accepted a 16-byte key")
	}
}

func mustNew(t *testing.T, key []byte) *Box {
	t.Helper()
	b, err := New(key)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
