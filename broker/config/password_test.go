package config

import (
	"fmt"
	"strings"
	"testing"
)

func TestPasswordEncoderRoundTrip(t *testing.T) {
	for _, c := range []struct{ cipher, factory string }{
		{"AES/CBC/PKCS5Padding", ""},
		{"AES/GCM/NoPadding", "PBKDF2WithHmacSHA256"},
		{"AES/CBC/PKCS5Padding", "PBKDF2WithHmacSHA1"},
	} {
		e := &PasswordEncoder{Secret: "encoder-secret", KeyFactory: c.factory, Cipher: c.cipher, KeyLength: 128, Iterations: 1024}
		for _, pw := range []string{"store-secret", "", "exactly16bytes!!", "pässwörd ✓"} {
			enc, err := e.Encode(pw)
			if err != nil {
				t.Fatalf("%s: %v", c.cipher, err)
			}
			if pw != "" && strings.Contains(enc, pw) {
				t.Fatalf("the encoded form holds the password: %s", enc)
			}
			got, err := e.Decode(enc)
			if err != nil || got != pw {
				t.Fatalf("%s %q: decoded %q, %v", c.cipher, pw, got, err)
			}
			if _, err := (&PasswordEncoder{Secret: "another-secret"}).Decode(enc); err == nil {
				t.Errorf("%s: decoded with the wrong secret", c.cipher)
			}
			rotated := &PasswordEncoder{Secret: "new-secret", OldSecret: "encoder-secret"}
			if got, err := rotated.Decode(enc); err != nil || got != pw {
				t.Errorf("%s: with the old secret: %q, %v", c.cipher, got, err)
			}
		}
	}
}

// TestPasswordDecodeKafkaValue reads a value Kafka 3.9's encoder wrote (secret
// "encoder-secret", password "store-secret", the default algorithms).
func TestPasswordDecodeKafkaValue(t *testing.T) {
	for _, enc := range []string{kafkaEncodedPassword, kafkaEncodedPasswordGCM} {
		got, err := (&PasswordEncoder{Secret: "encoder-secret"}).Decode(enc)
		if err != nil || got != "store-secret" {
			t.Fatalf("decoded %q, %v", got, err)
		}
	}
}

func TestPasswordDecodeRefusesGarbage(t *testing.T) {
	e := &PasswordEncoder{Secret: "s"}
	for _, in := range []string{"", "plain-password", "salt:AAAA,initializationVector:AAAA", kafkaEncodedPassword[:len(kafkaEncodedPassword)/2]} {
		if _, err := e.Decode(in); err == nil {
			t.Errorf("%q decoded", in)
		}
	}
}

func TestPasswordEncoderNeedsSecret(t *testing.T) {
	c, _, err := Load("", []string{"log.dirs=/tmp/x"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.PasswordEncoder(); err != ErrNoPasswordSecret {
		t.Fatalf("without a secret: %v", err)
	}
	c, _, err = Load("", []string{"log.dirs=/tmp/x", "password.encoder.secret=s3cret", "password.encoder.cipher.algorithm=AES/GCM/NoPadding"})
	if err != nil {
		t.Fatal(err)
	}
	e, err := c.PasswordEncoder()
	if err != nil || e.Secret != "s3cret" || e.Cipher != "AES/GCM/NoPadding" || e.KeyLength != 128 || e.Iterations != 4096 {
		t.Fatalf("%+v, %v", e, err)
	}
}

// Values written by Kafka 3.9.2's PasswordEncoder.encrypting (secret "encoder-secret",
// password "store-secret", 128-bit keys, 4096 iterations), CBC and GCM.
const (
	kafkaEncodedPassword    = "initializationVector:B+G2DPT4ndPZFuITy1sZeA==,keyLength:128,salt:lpJxvYiMcaf36fc9nBWQsOhydRP1uGJk2BH7emopl9OfCAJYKk1a395l1EWzx6SVySQS6ncttjlsfbYBPWPBW8vw06XN2ji053MVizr1jA2A4q9izmEjG9Tg65qmP7IXUdQ4HfoRyZWb6GvRUE9MdgK+6CWEU6jn7eYxDjnJ7tIQpDTQB75JRvXCbE3Kzp1MrID0cn5IOs1FfjSIlKvkLTXOuObOpzbqBR5bg5c/TIpnACjN61KqxMQIqimimVc13mL0yYVh1UF4Q4ci49CB9DN/nCXIVl4xkDkoTKh5buOWGPJNORPEWdpLbgQUlpK11OVlXJ0WCLmcR+TZJjxjLA==,keyFactoryAlgorithm:PBKDF2WithHmacSHA512,cipherAlgorithm:AES/CBC/PKCS5Padding,iterations:4096,passwordLength:12,encryptedPassword:Xjorrhgh5VRUgTdPXshWMw=="
	kafkaEncodedPasswordGCM = "initializationVector:mG9wl7NF9aqCG7oD,keyLength:128,salt:qxU7n2iQr6pfjjJM+QHp7CImc+uN2ON6i5tBAQA6Gy6vREisJ5QFr19QbdAk9dS3tv1ZgFz2AI5rzGkY9pTmJRAXl4wJPjUokaneZcxqVIs2U/8sFqKtgiNxjcqvZbEB6Z7OjwMVmfs9LKosMLeYmWy2w8+w7DTmq7wmMMSASJhuKMuV8EuKRboij+MKCLkeUuZkoi7rDaKAicvpQMWP6H1T3OdPW3hBswS00uNuTGxbkSEAII0gStRKRVr4ws9k1/cnud74kg1FjBiHKW3GOJdNBxAkw3WT/3l4RRMuMvXHIFWQHyHmtq2mSfEGwu9nrswQAuBzTDiarcaxZeEEZQ==,keyFactoryAlgorithm:PBKDF2WithHmacSHA512,cipherAlgorithm:AES/GCM/NoPadding,authenticationTagLength:128,iterations:4096,passwordLength:12,encryptedPassword:/vfxGt85fUPoHNM+1htRY5b/M3aliX0owqQMhg=="
)

// TestPasswordWrongSecretRefused decodes a CBC value with many wrong secrets. CBC has no
// authentication tag, so only the checks after decryption (valid UTF-8, the stored length)
// tell a wrong key from the right one. A 15-byte password is the worst case: one byte of
// padding, valid for about one wrong key in 256, leaves 15 random bytes that mostly count
// as 15 characters, so the length check alone let about one secret in 300 through.
func TestPasswordWrongSecretRefused(t *testing.T) {
	e := &PasswordEncoder{Secret: "encoder-secret", Cipher: "AES/CBC/PKCS5Padding", KeyLength: 128, Iterations: 1}
	enc, err := e.Encode("fifteen-chars!!")
	if err != nil {
		t.Fatal(err)
	}
	decoded := 0
	for i := 0; i < 20000; i++ {
		if got, err := (&PasswordEncoder{Secret: fmt.Sprintf("wrong-%d", i)}).Decode(enc); err == nil {
			decoded++
			t.Logf("wrong secret %d decoded %q", i, got)
		}
	}
	if decoded > 0 {
		t.Fatalf("%d of 20000 wrong secrets decoded the password", decoded)
	}
}
