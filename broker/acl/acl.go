package acl

import (
	"slices"
	"sort"
	"strings"
	"sync/atomic"

	"github.com/rs/zerolog"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// Binding is one ACL: a resource pattern and an access control entry.
type Binding struct {
	ResourceType kmsg.ACLResourceType
	ResourceName string
	Pattern      kmsg.ACLResourcePatternType // LITERAL or PREFIXED
	Principal    string                      // User:alice, or User:* for everyone
	Host         string                      // an IP address, or * for any
	Operation    kmsg.ACLOperation
	Permission   kmsg.ACLPermissionType // ALLOW or DENY
}

// Wildcard is the resource name, principal user and host that match everything.
const Wildcard = "*"

// entry is a binding as the index keeps it under its pattern.
type entry struct {
	principal string
	host      string
	op        kmsg.ACLOperation
	deny      bool
}

// typeIndex holds one resource type's bindings.
type typeIndex struct {
	literal    map[string][]entry // by name, "*" included
	prefixed   map[string][]entry // by prefix
	prefixLens []int              // distinct prefix lengths, ascending
	count      int
}

type index struct {
	types    [8]typeIndex // by ACLResourceType (2-7 used)
	bindings []Binding
}

// Authorizer decides requests; safe for concurrent use.
type Authorizer struct {
	superUsers  map[string]bool
	allowIfNone bool
	logger      zerolog.Logger
	idx         atomic.Pointer[index]
}

// New returns an authorizer without bindings.
func New(superUsers []string, allowEveryoneIfNoACLFound bool, logger zerolog.Logger) *Authorizer {
	a := &Authorizer{superUsers: map[string]bool{}, allowIfNone: allowEveryoneIfNoACLFound, logger: logger}
	for _, u := range superUsers {
		a.superUsers[u] = true
	}
	a.Load(nil)
	return a
}

// Load replaces every binding.
func (a *Authorizer) Load(bindings []Binding) {
	idx := &index{bindings: slices.Clone(bindings)}
	for _, b := range bindings {
		if b.ResourceType < 0 || int(b.ResourceType) >= len(idx.types) {
			continue
		}
		ti := &idx.types[b.ResourceType]
		e := entry{principal: b.Principal, host: b.Host, op: b.Operation, deny: b.Permission == kmsg.ACLPermissionTypeDeny}
		if b.Pattern == kmsg.ACLResourcePatternTypePrefixed {
			if ti.prefixed == nil {
				ti.prefixed = map[string][]entry{}
			}
			if _, ok := ti.prefixed[b.ResourceName]; !ok && !slices.Contains(ti.prefixLens, len(b.ResourceName)) {
				ti.prefixLens = append(ti.prefixLens, len(b.ResourceName))
			}
			ti.prefixed[b.ResourceName] = append(ti.prefixed[b.ResourceName], e)
		} else {
			if ti.literal == nil {
				ti.literal = map[string][]entry{}
			}
			ti.literal[b.ResourceName] = append(ti.literal[b.ResourceName], e)
		}
		ti.count++
	}
	for i := range idx.types {
		sort.Ints(idx.types[i].prefixLens)
	}
	a.idx.Store(idx)
}

// Bindings returns every binding.
func (a *Authorizer) Bindings() []Binding { return slices.Clone(a.idx.Load().bindings) }

// IsSuperUser reports whether principal is in super.users.
func (a *Authorizer) IsSuperUser(principal string) bool { return a.superUsers[principal] }

// Authorize decides whether principal, connected from host, may do op on the resource, and
// logs a denial as Kafka's authorizer logger does.
func (a *Authorizer) Authorize(principal, host string, op kmsg.ACLOperation, rt kmsg.ACLResourceType, name string) bool {
	if a.Allowed(principal, host, op, rt, name) {
		return true
	}
	a.logger.Info().Str("principal", principal).Str("host", host).Str("operation", op.String()).
		Str("resource_type", rt.String()).Str("resource", name).Msg("authorization denied")
	return false
}

// Allowed is Authorize without the log line (for authorized-operations fields and
// filtering, where Kafka does not log either).
func (a *Authorizer) Allowed(principal, host string, op kmsg.ACLOperation, rt kmsg.ACLResourceType, name string) bool {
	ti, decided, allowed := a.lookup(principal, rt)
	if decided {
		return allowed
	}
	found := false
	// Deny first: any matching DENY wins.
	denied := false
	visit := func(es []entry, wantDeny bool) bool {
		for i := range es {
			e := &es[i]
			if e.deny != wantDeny {
				continue
			}
			if (e.principal != principal && e.principal != "User:*") || (e.host != host && e.host != Wildcard) {
				continue
			}
			if wantDeny {
				if e.op == op || e.op == kmsg.ACLOperationAll {
					return true
				}
			} else if implies(e.op, op) {
				return true
			}
		}
		return false
	}
	each := func(fn func([]entry) bool) bool {
		if es, ok := ti.literal[name]; ok {
			found = true
			if fn(es) {
				return true
			}
		}
		if es, ok := ti.literal[Wildcard]; ok {
			found = true
			if fn(es) {
				return true
			}
		}
		for _, l := range ti.prefixLens {
			if l > len(name) {
				break
			}
			if es, ok := ti.prefixed[name[:l]]; ok {
				found = true
				if fn(es) {
					return true
				}
			}
		}
		return false
	}
	denied = each(func(es []entry) bool { return visit(es, true) })
	if denied {
		return false
	}
	if !found {
		return a.allowIfNone
	}
	return each(func(es []entry) bool { return visit(es, false) })
}

// lookup is what every decision starts with: super users are allowed, an unknown type is
// refused, a type without ACLs follows allow.everyone.if.no.acl.found; otherwise decided is
// false and ti holds the type's ACLs.
func (a *Authorizer) lookup(principal string, rt kmsg.ACLResourceType) (ti *typeIndex, decided, allowed bool) {
	switch {
	case a.superUsers[principal]:
		return nil, true, true
	case rt < 0 || int(rt) >= 8:
		return nil, true, false
	}
	ti = &a.idx.Load().types[rt]
	if ti.count == 0 {
		return nil, true, a.allowIfNone
	}
	return ti, false, false
}

// implies reports whether an ALLOW for granted allows op.
func implies(granted, op kmsg.ACLOperation) bool {
	if granted == op || granted == kmsg.ACLOperationAll {
		return true
	}
	switch op {
	case kmsg.ACLOperationDescribe:
		switch granted {
		case kmsg.ACLOperationRead, kmsg.ACLOperationWrite, kmsg.ACLOperationDelete, kmsg.ACLOperationAlter:
			return true
		}
	case kmsg.ACLOperationDescribeConfigs:
		return granted == kmsg.ACLOperationAlterConfigs
	}
	return false
}

// AllowedAnyOfType reports whether principal may do op on at least one resource of a type,
// as Kafka's authorizeByResourceType: an ALLOW (literal, prefixed or wildcard) for it, not
// cancelled by a wildcard DENY. It answers whether an idempotent producer may be given a
// producer id (WRITE on any topic).
func (a *Authorizer) AllowedAnyOfType(principal, host string, op kmsg.ACLOperation, rt kmsg.ACLResourceType) bool {
	ti, decided, allowed := a.lookup(principal, rt)
	if decided {
		return allowed
	}
	match := func(e *entry) bool {
		return (e.principal == principal || e.principal == "User:*") && (e.host == host || e.host == Wildcard)
	}
	for _, e := range ti.literal[Wildcard] {
		if e.deny && match(&e) && (e.op == op || e.op == kmsg.ACLOperationAll) {
			return false
		}
	}
	for _, e := range ti.prefixed[""] {
		if e.deny && match(&e) && (e.op == op || e.op == kmsg.ACLOperationAll) {
			return false
		}
	}
	for _, group := range []map[string][]entry{ti.literal, ti.prefixed} {
		for _, es := range group {
			for i := range es {
				if !es[i].deny && match(&es[i]) && implies(es[i].op, op) {
					return true
				}
			}
		}
	}
	return false
}

// Filter is a DescribeAcls or DeleteAcls filter: zero-valued matches anything (ANY types,
// nil strings), MATCH patterns match what would apply to the name.
type Filter struct {
	ResourceType kmsg.ACLResourceType // ANY (1) or a type
	ResourceName *string
	Pattern      kmsg.ACLResourcePatternType // ANY (1), MATCH (2), LITERAL (3), PREFIXED (4)
	Principal    *string
	Host         *string
	Operation    kmsg.ACLOperation      // ANY (1) or an operation
	Permission   kmsg.ACLPermissionType // ANY (1), DENY, ALLOW
}

// Matches reports whether a binding passes the filter, as Kafka's AclBindingFilter does.
func (f Filter) Matches(b Binding) bool {
	if f.ResourceType != kmsg.ACLResourceTypeAny && f.ResourceType != b.ResourceType {
		return false
	}
	switch f.Pattern {
	case kmsg.ACLResourcePatternTypeAny:
		if f.ResourceName != nil && *f.ResourceName != b.ResourceName {
			return false
		}
	case kmsg.ACLResourcePatternTypeMatch:
		if f.ResourceName != nil {
			n := *f.ResourceName
			switch b.Pattern {
			case kmsg.ACLResourcePatternTypeLiteral:
				if b.ResourceName != n && b.ResourceName != Wildcard {
					return false
				}
			case kmsg.ACLResourcePatternTypePrefixed:
				if !strings.HasPrefix(n, b.ResourceName) {
					return false
				}
			}
		}
	default:
		if f.Pattern != b.Pattern || (f.ResourceName != nil && *f.ResourceName != b.ResourceName) {
			return false
		}
	}
	if f.Principal != nil && *f.Principal != b.Principal {
		return false
	}
	if f.Host != nil && *f.Host != b.Host {
		return false
	}
	if f.Operation != kmsg.ACLOperationAny && f.Operation != b.Operation {
		return false
	}
	return f.Permission == kmsg.ACLPermissionTypeAny || f.Permission == b.Permission
}
