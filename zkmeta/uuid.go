package zkmeta

import (
	"encoding/base64"
	"fmt"
	"strings"

	"github.com/google/uuid"
)

// EncodeUUID renders a 16-byte id as Kafka does in znodes (topic_id,
// cluster id): URL-safe base64 without padding, 22 characters.
func EncodeUUID(id [16]byte) string {
	return base64.RawURLEncoding.EncodeToString(id[:])
}

// DecodeUUID parses what EncodeUUID produces.
func DecodeUUID(s string) ([16]byte, error) {
	var id [16]byte
	b, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(s, "="))
	if err != nil {
		return id, fmt.Errorf("zkmeta: bad uuid %q: %w", s, err)
	}
	if len(b) != len(id) {
		return id, fmt.Errorf("zkmeta: bad uuid %q: %d bytes, want 16", s, len(b))
	}
	copy(id[:], b)
	return id, nil
}

// RandomUUID returns a random (version 4) id that, like Kafka's
// Uuid.randomUuid, is neither zero nor the reserved metadata topic id Uuid(0, 1) and
// does not render with a leading '-' (it would read as a command-line flag).
func RandomUUID() ([16]byte, error) {
	for {
		u, err := uuid.NewRandom()
		if err != nil {
			return [16]byte{}, fmt.Errorf("zkmeta: random uuid: %w", err)
		}
		id := [16]byte(u)
		if id == ([16]byte{}) || id == [16]byte{15: 1} || strings.HasPrefix(EncodeUUID(id), "-") {
			continue
		}
		return id, nil
	}
}
