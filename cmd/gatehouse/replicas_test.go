package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/cookiejar"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/oidctest"
)

// TestThreeReplicasRevokeThroughAdminAPI is the multi-replica story end to
// end: three gatehouse processes (in-process) on one Redis with their local
// caches on; a user signs in through one and is served by all three (their
// caches warm); an operator revokes the user through the admin API of the
// third with the CLI; every replica denies within the bound; a replica
// stopped does not take any session with it.
func TestThreeReplicasRevokeThroughAdminAPI(t *testing.T) {
	prefix := fmt.Sprintf("gatehouse-test:%d:", time.Now().UnixNano())
	requireRedis(t, prefix)
	p := oidctest.Start(t, oidctest.Options{Users: []oidctest.User{
		{Subject: "u-alice", Email: "alice@example.com", EmailVerified: true, PreferredUsername: "alice", Password: "pw-a"},
		{Subject: "u-bob", Email: "bob@example.com", EmailVerified: true, PreferredUsername: "bob", Password: "pw-b"},
	}})
	token := filepath.Join(t.TempDir(), "admin-token")
	os.WriteFile(token, []byte(strings.Repeat("k", 48)), 0o600)
	key := randomKey(t)
	var replicas []*instance
	for i := range 3 {
		env := baseEnv(t, p, prefix)
		env["GATEHOUSE_COOKIE_SECRETS"] = key
		env["GATEHOUSE_SESSION_CACHE_TTL"] = "60s" // revocation must not wait for the TTL
		if i == 2 {
			env["GATEHOUSE_ADMIN_ADDR"] = "auto"
			env["GATEHOUSE_ADMIN_TOKEN_FILE"] = token
		}
		replicas = append(replicas, startInstance(t, env))
	}
	p.AddRedirectURI(replicas[0].url + "/oauth2/callback")

	signIn := func(user, pw string) *http.Client {
		jar, _ := cookiejar.New(nil)
		c := &http.Client{Jar: jar}
		if _, err := p.Login(context.Background(), c, replicas[0].url+"/oauth2/start?rd=/", user, pw); err != nil {
			t.Fatal(err)
		}
		return c
	}
	alice, bob := signIn("alice", "pw-a"), signIn("bob", "pw-b")
	for i, r := range replicas {
		for range 3 { // the later calls are cache hits
			if resp := forwardAuth(t, alice, r.url, "/"); resp.StatusCode != 200 {
				t.Fatalf("replica %d before revocation: %d", i, resp.StatusCode)
			}
		}
	}

	// The CLI lists alice's session and revokes her.
	cli := func(args ...string) string {
		var out, errb bytes.Buffer
		lookup := func(k string) (string, bool) {
			v, ok := map[string]string{"GATEHOUSE_ADMIN_ADDR": replicas[2].admin, "GATEHOUSE_ADMIN_TOKEN_FILE": token}[k]
			return v, ok
		}
		if code := run(context.Background(), append([]string{"sessions"}, args...), &out, &errb, lookup); code != 0 {
			t.Fatalf("gatehouse sessions %v: exit %d: %s", args, code, errb.String())
		}
		return out.String()
	}
	var listed []struct {
		Handle string `json:"handle"`
		Email  string `json:"email"`
	}
	out := cli("list", "--email", "alice@example.com", "--json")
	if err := json.Unmarshal([]byte(out), &listed); err != nil || len(listed) != 1 || listed[0].Email != "alice@example.com" || listed[0].Handle == "" {
		t.Fatalf("list alice: %q (%v)", out, err)
	}
	start := time.Now()
	cli("revoke-user", "--email", "alice@example.com")

	// Every replica denies within the bound (the caches are evicted by the
	// revocation message, not by their 30s TTL).
	denied := make([]time.Duration, len(replicas))
	for i, r := range replicas {
		for {
			if resp := forwardAuth(t, alice, r.url, "/"); resp.StatusCode != 200 {
				denied[i] = time.Since(start)
				break
			}
			// Far below the 60s cache TTL: only the revocation message
			// can have evicted the entry.
			if time.Since(start) > 10*time.Second {
				t.Fatalf("replica %d still allows alice 10s after revocation", i)
			}
			time.Sleep(2 * time.Millisecond)
		}
	}
	t.Logf("revocation to denial on 3 replicas: %v (slowest %v)", denied, slices.Max(denied))

	// bob is untouched; stopping a replica loses none of his sessions.
	replicas[0].stop(t)
	for i, r := range replicas[1:] {
		if resp := forwardAuth(t, bob, r.url, "/"); resp.StatusCode != 200 {
			t.Errorf("replica %d after replica 0 stopped: bob got %d", i+1, resp.StatusCode)
		}
	}
}
