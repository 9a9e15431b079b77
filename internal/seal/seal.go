// Package seal is the one place hubgate encrypts a secret it keeps outside its own
// memory: AES-256-GCM with a random nonce, keys derived with HKDF-SHA256, and
// associated data that binds a sealed value to where it is stored.
package seal

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/sha256"
	"errors"
)

// KeySize is the size of every key: AES-256, and the cookie codecs' HMAC-SHA256.
const KeySize = 32

// Box seals and opens with one key. It is safe for concurrent use.
//
// A sealed value is nonce (12 bytes) ‖ ciphertext ‖ tag (16 bytes): what
// cipher.NewGCMWithRandomNonce writes, and the format hubgate has always stored,
// so values sealed by an earlier version still open.
type Box struct{ aead cipher.AEAD }

// ErrOpen is a value that does not open: tampered, too short, sealed under another
// key or with other associated data.
var ErrOpen = errors.New("seal: value does not open (tampered, or sealed with another key or associated data)")

// New returns a Box for a KeySize-byte key.
func New(key []byte) (*Box, error) {
	if len(key) != KeySize {
		return nil, errors.New("seal: a key is 32 bytes")
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	aead, err := cipher.NewGCMWithRandomNonce(block)
	if err != nil {
		return nil, err
	}
	return &Box{aead: aead}, nil
}

// Derive returns a Box keyed by HKDF-SHA256 from secret and salt for purpose. Each
// purpose gets its own key, so a value sealed for one is never opened as another.
func Derive(secret, salt []byte, purpose string) *Box {
	b, err := New(DeriveKey(secret, salt, purpose))
	if err != nil {
		panic(err) // a derived key always has the right size
	}
	return b
}

// DeriveKey is HKDF-SHA256(secret, salt, purpose), KeySize bytes: the keys of the
// cookie codecs, and of every Box from Derive.
func DeriveKey(secret, salt []byte, purpose string) []byte {
	key, err := hkdf.Key(sha256.New, secret, salt, purpose, KeySize)
	if err != nil {
		panic(err) // only for a length SHA-256 cannot give
	}
	return key
}

// Seal encrypts plain; ad (may be nil) must be given again to open it.
func (b *Box) Seal(plain, ad []byte) []byte {
	return b.aead.Seal(nil, nil, plain, ad)
}

// Open decrypts and authenticates a value from Seal with the same associated data.
func (b *Box) Open(sealed, ad []byte) ([]byte, error) {
	if len(sealed) < b.aead.NonceSize()+b.aead.Overhead() {
		return nil, ErrOpen
	}
	plain, err := b.aead.Open(nil, nil, sealed, ad)
	if err != nil {
		return nil, ErrOpen
	}
	return plain, nil
}
