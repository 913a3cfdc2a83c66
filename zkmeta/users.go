package zkmeta

import (
	"context"
	"net/url"
	"strings"
)

// User entities (/config/users/<user>) hold a user's quota overrides and SCRAM
// credentials, {"version":1,"config":{"SCRAM-SHA-256":"salt=...,stored_key=...,
// server_key=...,iterations=4096"}}. The znode name is the user name sanitized as
// Kafka's Sanitizer does (URL encoding, with %20 for a space and %2A for '*').

// SanitizeUser encodes a user name for a znode name.
func SanitizeUser(user string) string {
	s := url.QueryEscape(user)
	s = strings.ReplaceAll(s, "+", "%20")
	return strings.ReplaceAll(s, "*", "%2A")
}

// DesanitizeUser decodes a znode name back to the user name.
func DesanitizeUser(name string) string {
	u, err := url.QueryUnescape(name)
	if err != nil {
		return name
	}
	return u
}

// UserConfig returns a user's config entries (empty when none).
func (m *Metadata) UserConfig(ctx context.Context, user string) (map[string]string, error) {
	return m.Config(ctx, ConfigUsers, SanitizeUser(user))
}

// SetUserConfig replaces a user's config entries and writes the change notification
// (entity_path users/<sanitized user>) so that every broker applies them.
func (m *Metadata) SetUserConfig(ctx context.Context, user string, cfg map[string]string) error {
	return m.SetConfig(ctx, ConfigUsers, SanitizeUser(user), cfg)
}

// Users returns the users that have a /config/users entry.
func (m *Metadata) Users(ctx context.Context) ([]string, error) {
	names, err := m.childrenOrEmpty(ctx, ConfigPath+"/"+ConfigUsers)
	if err != nil {
		return nil, err
	}
	for i, n := range names {
		names[i] = DesanitizeUser(n)
	}
	return names, nil
}
