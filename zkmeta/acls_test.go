package zkmeta

import (
	"context"
	"errors"
	"testing"
)

// TestACLLayout checks Kafka's ACL znodes, JSON and change notifications, and the user
// config entity, on the embedded store (persisted across a reopen).
func TestACLLayout(t *testing.T) {
	dir := t.TempDir()
	e, m := openMeta(t, dir)
	ctx := context.Background()
	if err := m.EnsureACLPaths(ctx); err != nil {
		t.Fatal(err)
	}
	lit := ACLResource{Type: "Topic", Name: "orders"}
	pre := ACLResource{Type: "TransactionalId", Name: "tx-", Prefixed: true}
	read := ACLEntry{Principal: "User:alice", PermissionType: "Allow", Operation: "Read", Host: "*"}
	if err := m.SetResourceACLs(ctx, lit, []ACLEntry{read}, -1); err != nil {
		t.Fatal(err)
	}
	if err := m.SetResourceACLs(ctx, pre, []ACLEntry{read}, -1); err != nil {
		t.Fatal(err)
	}
	if err := m.SetResourceACLs(ctx, lit, []ACLEntry{read}, -1); !errors.Is(err, ErrNodeExists) {
		t.Errorf("second create: %v, want ErrNodeExists", err)
	}
	data, _, err := e.Get(ctx, "/kafka-acl/Topic/orders")
	if want := `{"version":1,"acls":[{"principal":"User:alice","permissionType":"Allow","operation":"Read","host":"*"}]}`; err != nil || string(data) != want {
		t.Errorf("/kafka-acl/Topic/orders = %s %v, want %s", data, err, want)
	}
	if _, _, err := e.Get(ctx, "/kafka-acl-extended/prefixed/TransactionalId/tx-"); err != nil {
		t.Error(err)
	}
	for path, want := range map[string]string{
		"/kafka-acl-changes/acl_changes_0000000000":          "TOPIC:orders",
		"/kafka-acl-extended-changes/acl_changes_0000000000": `{"version":1,"resourceType":"TRANSACTIONAL_ID","name":"tx-","patternType":"PREFIXED"}`,
	} {
		if data, _, err := e.Get(ctx, path); err != nil || string(data) != want {
			t.Errorf("%s = %s %v, want %s", path, data, err, want)
		}
	}
	if err := m.SetUserConfig(ctx, "CN=bob smith", map[string]string{"SCRAM-SHA-256": "x"}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := e.Get(ctx, "/config/users/CN%3Dbob%20smith"); err != nil {
		t.Errorf("sanitized user znode: %v", err)
	}

	// Everything survives a reopen of the embedded store.
	e.Close()
	_, m = openMeta(t, dir)
	all, err := m.AllACLs(ctx)
	if err != nil || len(all) != 2 || all[lit][0] != read || all[pre][0] != read {
		t.Errorf("after reopen: %v %v", all, err)
	}
	users, err := m.Users(ctx)
	if err != nil || len(users) != 1 || users[0] != "CN=bob smith" {
		t.Errorf("users %v %v", users, err)
	}
	_, v, _ := m.ResourceACLs(ctx, lit)
	if err := m.SetResourceACLs(ctx, lit, nil, v); err != nil {
		t.Fatal(err)
	}
	if all, _ := m.AllACLs(ctx); len(all) != 1 {
		t.Errorf("after deleting the last ACL: %v", all)
	}
}
