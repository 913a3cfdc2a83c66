package config

// Password configs set dynamically are stored encrypted, as Kafka stores them in ZooKeeper
// (its EncryptingPasswordEncoder): a key derived from password.encoder.secret with PBKDF2,
// the password encrypted with AES, and the parameters needed to decrypt it kept beside it as
// comma-separated name:value pairs, so that a value written by either broker reads in both.

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/pbkdf2"
	"crypto/rand"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"errors"
	"fmt"
	"hash"
	"strconv"
	"strings"
	"unicode/utf16"
	"unicode/utf8"
)

// ErrNoPasswordSecret refuses a dynamic password config when password.encoder.secret is not
// set (Kafka's message).
var ErrNoPasswordSecret = errors.New("Password encoder secret not configured")

// PasswordEncoder encrypts and decrypts dynamic password configs (password.encoder.*).
type PasswordEncoder struct {
	Secret, OldSecret string
	KeyFactory        string // password.encoder.keyfactory.algorithm; empty = PBKDF2WithHmacSHA512
	Cipher            string // password.encoder.cipher.algorithm
	KeyLength         int    // bits
	Iterations        int
}

// PasswordEncoder is the encoder of this configuration, or ErrNoPasswordSecret.
func (c *Config) PasswordEncoder() (*PasswordEncoder, error) {
	if c.Security.PasswordEncoder.Secret == "" {
		return nil, ErrNoPasswordSecret
	}
	e := c.Security.PasswordEncoder
	return &e, nil
}

// Encode encrypts a password with a fresh salt and initialization vector.
func (e *PasswordEncoder) Encode(password string) (string, error) {
	factory := e.KeyFactory
	if factory == "" {
		factory = "PBKDF2WithHmacSHA512"
	}
	salt := make([]byte, 256)
	rand.Read(salt)
	aead, ivParams, err := e.cipher(e.Secret, factory, e.Cipher, e.KeyLength, e.Iterations, salt)
	if err != nil {
		return "", err
	}
	iv := make([]byte, aead.ivSize)
	rand.Read(iv)
	sealed, err := aead.seal(iv, []byte(password))
	if err != nil {
		return "", err
	}
	b64 := base64.StdEncoding.EncodeToString
	fields := []string{
		"keyFactoryAlgorithm:" + factory,
		"cipherAlgorithm:" + e.Cipher,
		"keyLength:" + strconv.Itoa(e.KeyLength),
		"salt:" + b64(salt),
		"iterations:" + strconv.Itoa(e.Iterations),
		"encryptedPassword:" + b64(sealed),
		"passwordLength:" + strconv.Itoa(len(utf16.Encode([]rune(password)))),
		"initializationVector:" + b64(iv),
	}
	fields = append(fields, ivParams...)
	return strings.Join(fields, ","), nil
}

// Decode decrypts a stored password with the secret, else the old secret.
func (e *PasswordEncoder) Decode(encoded string) (string, error) {
	p, err := decodePassword(e.Secret, encoded)
	if err != nil && e.OldSecret != "" {
		if old, oldErr := decodePassword(e.OldSecret, encoded); oldErr == nil {
			return old, nil
		}
	}
	return p, err
}

func decodePassword(secret, encoded string) (string, error) {
	params := map[string]string{}
	for _, f := range strings.Split(encoded, ",") {
		name, v, ok := strings.Cut(strings.TrimSpace(f), ":")
		if !ok {
			return "", errors.New("Password could not be decoded: not an encoded password")
		}
		params[name] = v
	}
	num := func(name string) int {
		n, _ := strconv.Atoi(params[name])
		return n
	}
	b64 := func(name string) []byte {
		b, _ := base64.StdEncoding.DecodeString(params[name])
		return b
	}
	salt, iv, sealed := b64("salt"), b64("initializationVector"), b64("encryptedPassword")
	if len(salt) == 0 || len(iv) == 0 || len(sealed) == 0 {
		return "", errors.New("Password could not be decoded: parameters missing")
	}
	e := &PasswordEncoder{}
	aead, _, err := e.cipher(secret, params["keyFactoryAlgorithm"], params["cipherAlgorithm"], num("keyLength"), num("iterations"), salt)
	if err != nil {
		return "", err
	}
	plain, err := aead.open(iv, sealed)
	if err != nil {
		return "", errors.New("Password could not be decoded")
	}
	// AES/CBC carries no authentication tag: a wrong secret yields random bytes whose
	// padding happens to be valid about once in 256 tries. A password is text, so bytes
	// that are not UTF-8 mean the key was wrong; the length check below catches most of
	// the rest. Without this a rotated secret (password.encoder.old.secret) was sometimes
	// never tried, the new secret having "decoded" the value into garbage.
	if !utf8.Valid(plain) {
		return "", errors.New("Password could not be decoded")
	}
	password := string(plain)
	if len(utf16.Encode([]rune(password))) != num("passwordLength") {
		return "", errors.New("Password could not be decoded, sanity check of length failed")
	}
	return password, nil
}

// passwordCipher is AES in CBC mode with PKCS#5 padding or in GCM mode, the two cipher
// families Kafka's encoder stores parameters for.
type passwordCipher struct {
	block  cipher.Block
	gcm    cipher.AEAD // nil: CBC
	ivSize int
}

// cipher derives the key and returns the cipher, with the extra parameters Encode stores.
func (*PasswordEncoder) cipher(secret, factory, algorithm string, keyLength, iterations int, salt []byte) (*passwordCipher, []string, error) {
	var h func() hash.Hash
	switch factory {
	case "PBKDF2WithHmacSHA512", "":
		h = sha512.New
	case "PBKDF2WithHmacSHA256":
		h = sha256.New
	case "PBKDF2WithHmacSHA1":
		h = sha1.New
	default:
		return nil, nil, fmt.Errorf("password.encoder.keyfactory.algorithm %q is not supported", factory)
	}
	if keyLength != 128 && keyLength != 192 && keyLength != 256 {
		return nil, nil, fmt.Errorf("password.encoder.key.length %d is not an AES key length", keyLength)
	}
	if iterations < 1 {
		return nil, nil, fmt.Errorf("password.encoder.iterations %d", iterations)
	}
	key, err := pbkdf2.Key(h, secret, salt, iterations, keyLength/8)
	if err != nil {
		return nil, nil, err
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, nil, err
	}
	switch strings.ToUpper(algorithm) {
	case "AES/CBC/PKCS5PADDING":
		return &passwordCipher{block: block, ivSize: aes.BlockSize}, nil, nil
	case "AES/GCM/NOPADDING":
		gcm, err := cipher.NewGCM(block)
		if err != nil {
			return nil, nil, err
		}
		return &passwordCipher{block: block, gcm: gcm, ivSize: gcm.NonceSize()}, []string{"authenticationTagLength:128"}, nil
	}
	return nil, nil, fmt.Errorf("password.encoder.cipher.algorithm %q is not supported (AES/CBC/PKCS5Padding, AES/GCM/NoPadding)", algorithm)
}

func (c *passwordCipher) seal(iv, plain []byte) ([]byte, error) {
	if c.gcm != nil {
		return c.gcm.Seal(nil, iv, plain, nil), nil
	}
	pad := aes.BlockSize - len(plain)%aes.BlockSize
	buf := append([]byte(nil), plain...)
	for range pad {
		buf = append(buf, byte(pad))
	}
	cipher.NewCBCEncrypter(c.block, iv).CryptBlocks(buf, buf)
	return buf, nil
}

func (c *passwordCipher) open(iv, sealed []byte) ([]byte, error) {
	if c.gcm != nil {
		if len(iv) != c.gcm.NonceSize() {
			return nil, errors.New("bad initialization vector")
		}
		return c.gcm.Open(nil, iv, sealed, nil)
	}
	if len(iv) != aes.BlockSize || len(sealed) == 0 || len(sealed)%aes.BlockSize != 0 {
		return nil, errors.New("bad block")
	}
	buf := append([]byte(nil), sealed...)
	cipher.NewCBCDecrypter(c.block, iv).CryptBlocks(buf, buf)
	pad := int(buf[len(buf)-1])
	if pad < 1 || pad > aes.BlockSize {
		return nil, errors.New("bad padding")
	}
	for _, b := range buf[len(buf)-pad:] {
		if int(b) != pad {
			return nil, errors.New("bad padding")
		}
	}
	return buf[:len(buf)-pad], nil
}
