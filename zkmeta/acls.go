package zkmeta

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
)

// ACLs, in Kafka's ZkAclStore layout (AclAuthorizer, ZooKeeper mode):
//
//	/kafka-acl/<ResourceType>/<name>                     literal patterns
//	/kafka-acl-extended/prefixed/<ResourceType>/<name>   prefixed patterns
//	  {"version":1,"acls":[{"principal":"User:alice","permissionType":"Allow","operation":"Read","host":"*"}]}
//	/kafka-acl-changes/acl_changes_<seq>                 "TOPIC:<name>" after a literal change
//	/kafka-acl-extended-changes/acl_changes_<seq>        {"version":1,"resourceType":"TOPIC","name":"<name>","patternType":"PREFIXED"}
//
// Resource types are Topic, Group, Cluster, TransactionalId, DelegationToken, User;
// operations and permission types are spelled as Kafka's SecurityUtils spells them (Read,
// IdempotentWrite, Allow, Deny).
const (
	ACLPath                = "/kafka-acl"
	ACLExtendedPath        = "/kafka-acl-extended"
	ACLPrefixedPath        = ACLExtendedPath + "/prefixed"
	ACLChangesPath         = "/kafka-acl-changes"
	ACLExtendedChangesPath = "/kafka-acl-extended-changes"
	aclChangePrefix        = "acl_changes_"
)

// ACLResource is one resource pattern: a type name (Topic), a name and whether the name is
// a prefix.
type ACLResource struct {
	Type     string
	Name     string
	Prefixed bool
}

// ACLEntry is one ACL of a resource pattern.
type ACLEntry struct {
	Principal      string `json:"principal"`
	PermissionType string `json:"permissionType"`
	Operation      string `json:"operation"`
	Host           string `json:"host"`
}

type aclsJSON struct {
	Version int        `json:"version"`
	ACLs    []ACLEntry `json:"acls"`
}

// ACLResourceTypes are the resource type names that can hold ACLs.
var ACLResourceTypes = []string{"Topic", "Group", "Cluster", "TransactionalId", "DelegationToken", "User"}

func aclRoot(prefixed bool) string {
	if prefixed {
		return ACLPrefixedPath
	}
	return ACLPath
}

// ACLResourcePath is the znode of a resource pattern's ACLs.
func ACLResourcePath(r ACLResource) string { return aclRoot(r.Prefixed) + "/" + r.Type + "/" + r.Name }

// EnsureACLPaths creates the ACL roots (Kafka creates them when the authorizer starts).
func (m *Metadata) EnsureACLPaths(ctx context.Context) error {
	for _, p := range []string{ACLChangesPath, ACLExtendedChangesPath} {
		if err := m.createRecursive(ctx, p); err != nil {
			return err
		}
	}
	for _, prefixed := range []bool{false, true} {
		for _, t := range ACLResourceTypes {
			if err := m.createRecursive(ctx, aclRoot(prefixed)+"/"+t); err != nil {
				return err
			}
		}
	}
	return nil
}

// AllACLs reads every resource pattern's ACLs.
func (m *Metadata) AllACLs(ctx context.Context) (map[ACLResource][]ACLEntry, error) {
	out := map[ACLResource][]ACLEntry{}
	for _, prefixed := range []bool{false, true} {
		for _, t := range ACLResourceTypes {
			names, err := m.childrenOrEmpty(ctx, aclRoot(prefixed)+"/"+t)
			if err != nil {
				return nil, err
			}
			for _, n := range names {
				r := ACLResource{Type: t, Name: n, Prefixed: prefixed}
				acls, _, err := m.ResourceACLs(ctx, r)
				if err != nil {
					return nil, err
				}
				if len(acls) > 0 {
					out[r] = acls
				}
			}
		}
	}
	return out, nil
}

// ResourceACLs reads one resource pattern's ACLs and the znode version (-1 when absent).
func (m *Metadata) ResourceACLs(ctx context.Context, r ACLResource) ([]ACLEntry, int32, error) {
	path := ACLResourcePath(r)
	data, st, err := m.s.Get(ctx, path)
	if errors.Is(err, ErrNoNode) {
		return nil, -1, nil
	}
	if err != nil {
		return nil, 0, err
	}
	if len(data) == 0 {
		return nil, st.Version, nil
	}
	var v aclsJSON
	if err := decodeJSON(path, data, &v); err != nil {
		return nil, 0, err
	}
	return v.ACLs, st.Version, nil
}

// SetResourceACLs replaces a resource pattern's ACLs if its znode is still at version
// (-1: absent), deleting the znode when none are left, and writes the change notification.
// ErrBadVersion or ErrNodeExists tell a concurrent change: read again and retry.
func (m *Metadata) SetResourceACLs(ctx context.Context, r ACLResource, acls []ACLEntry, version int32) error {
	if r.Name == "" || strings.Contains(r.Name, "/") {
		return fmt.Errorf("zkmeta: ACL resource name %q cannot be a znode name", r.Name)
	}
	path := ACLResourcePath(r)
	var err error
	switch {
	case len(acls) == 0 && version >= 0:
		err = m.s.Delete(ctx, path, version)
	case len(acls) == 0:
		return nil
	case version < 0:
		data, _ := json.Marshal(aclsJSON{Version: 1, ACLs: acls})
		_, err = m.createWithParents(ctx, path, data, ModePersistent)
	default:
		data, _ := json.Marshal(aclsJSON{Version: 1, ACLs: acls})
		_, err = m.s.Set(ctx, path, data, version)
	}
	if err != nil {
		return err
	}
	changePath, change := ACLChangesPath, []byte(aclEnumName(r.Type)+":"+r.Name)
	if r.Prefixed {
		changePath = ACLExtendedChangesPath
		change, _ = json.Marshal(struct {
			Version      int    `json:"version"`
			ResourceType string `json:"resourceType"`
			Name         string `json:"name"`
			PatternType  string `json:"patternType"`
		}{1, aclEnumName(r.Type), r.Name, "PREFIXED"})
	}
	_, err = m.createWithParents(ctx, changePath+"/"+aclChangePrefix, change, ModePersistentSequential)
	return err
}

// aclEnumName is Java's ResourceType enum name of a type (TransactionalId: TRANSACTIONAL_ID).
func aclEnumName(t string) string {
	var b strings.Builder
	for i, c := range t {
		if i > 0 && c >= 'A' && c <= 'Z' {
			b.WriteByte('_')
		}
		b.WriteRune(c)
	}
	return strings.ToUpper(b.String())
}
