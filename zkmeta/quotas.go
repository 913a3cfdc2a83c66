package zkmeta

import (
	"context"
	"fmt"
	"strings"
)

// Client quota entities live where Kafka keeps them: /config/users/<user>,
// /config/users/<user>/clients/<client>, /config/clients/<client>, with <default> for the
// defaults and names sanitized as Kafka's Sanitizer does. (A user's SCRAM credentials share
// the /config/users/<user> znode.)

// DefaultEntityName names the default entity of a type (<default>).
const DefaultEntityName = "<default>"

// QuotaEntity is one client quota entity: a user, a client id, or both; Default* mark the
// defaults (the name is then empty).
type QuotaEntity struct {
	User, Client               string
	HasUser, HasClient         bool
	UserDefault, ClientDefault bool
}

// path is the entity's type and name under /config, as Kafka stores it.
func (e QuotaEntity) path() (entityType, name string) {
	user := SanitizeEntityName(e.User)
	if e.UserDefault {
		user = DefaultEntityName
	}
	client := SanitizeEntityName(e.Client)
	if e.ClientDefault {
		client = DefaultEntityName
	}
	switch {
	case e.HasUser && e.HasClient:
		return ConfigUsers, user + "/clients/" + client
	case e.HasUser:
		return ConfigUsers, user
	default:
		return ConfigClients, client
	}
}

// QuotaConfig returns an entity's stored configs (empty when none).
func (m *Metadata) QuotaConfig(ctx context.Context, e QuotaEntity) (map[string]string, error) {
	typ, name := e.path()
	return m.Config(ctx, typ, name)
}

// SetQuotaConfig replaces an entity's stored configs and writes the change notification.
func (m *Metadata) SetQuotaConfig(ctx context.Context, e QuotaEntity, cfg map[string]string) error {
	typ, name := e.path()
	return m.SetConfig(ctx, typ, name, cfg)
}

// QuotaEntities lists every user, user+client and client entity with a znode.
func (m *Metadata) QuotaEntities(ctx context.Context) ([]QuotaEntity, error) {
	var out []QuotaEntity
	entity := func(raw string, def *bool) string {
		if raw == DefaultEntityName {
			*def = true
			return ""
		}
		return DesanitizeEntityName(raw)
	}
	users, err := m.childrenOrEmpty(ctx, ConfigPath+"/"+ConfigUsers)
	if err != nil {
		return nil, err
	}
	for _, u := range users {
		var e QuotaEntity
		e.HasUser = true
		e.User = entity(u, &e.UserDefault)
		out = append(out, e)
		clients, err := m.childrenOrEmpty(ctx, ConfigEntityPath(ConfigUsers, u)+"/clients")
		if err != nil {
			return nil, err
		}
		for _, c := range clients {
			ec := e
			ec.HasClient = true
			ec.Client = entity(c, &ec.ClientDefault)
			out = append(out, ec)
		}
	}
	clients, err := m.childrenOrEmpty(ctx, ConfigPath+"/"+ConfigClients)
	if err != nil {
		return nil, err
	}
	for _, c := range clients {
		var e QuotaEntity
		e.HasClient = true
		e.Client = entity(c, &e.ClientDefault)
		out = append(out, e)
	}
	return out, nil
}

// SanitizeEntityName encodes a user or client id for a znode name as Kafka's Sanitizer does
// (URL encoding; a space is %20 and * is %2A).
func SanitizeEntityName(name string) string {
	var b strings.Builder
	for i := 0; i < len(name); i++ {
		c := name[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '.', c == '-', c == '_':
			b.WriteByte(c)
		default:
			fmt.Fprintf(&b, "%%%02X", c)
		}
	}
	return b.String()
}

// DesanitizeEntityName reverses SanitizeEntityName (a malformed escape is kept as is).
func DesanitizeEntityName(name string) string {
	var b strings.Builder
	for i := 0; i < len(name); i++ {
		if name[i] == '%' && i+2 < len(name) {
			var v byte
			if _, err := fmt.Sscanf(name[i+1:i+3], "%02X", &v); err == nil {
				b.WriteByte(v)
				i += 2
				continue
			}
		}
		if name[i] == '+' {
			b.WriteByte(' ')
			continue
		}
		b.WriteByte(name[i])
	}
	return b.String()
}
