package main

import (
	"context"
	"crypto/rand"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/gatehouse/gatehouse/internal/session"
	"github.com/gatehouse/gatehouse/internal/session/record"
)

// fixture describes the sessions a data set holds: n sessions of n/perUser
// users (each user's sessions share the user, sub and email indexes; each
// session has its own provider session ID), with the ID token tok (a
// signed JWT is about 900 bytes), an access token a quarter of it (an
// opaque one) and a 64-byte refresh token.
type fixture struct {
	n, perUser int
	tok        string
	expires    time.Time
}

// sessionAt returns the i-th session of the fixture with the given ID.
func (f fixture) sessionAt(i int, id string, now time.Time) *session.Session {
	u := i / f.perUser
	tok := f.tok
	return &session.Session{
		ID: id, Issuer: "https://idp.example.com", Subject: fmt.Sprintf("user-%07d", u),
		SID: fmt.Sprintf("sid-%08d", i), User: fmt.Sprintf("user%07d", u),
		Email: fmt.Sprintf("user%07d@example.com", u), EmailVerified: true,
		PreferredUsername: fmt.Sprintf("user%07d", u), Groups: []string{"staff", "ml-team"},
		CreatedAt: now, ExpiresAt: f.expires,
		IDToken: tok, AccessToken: tok[:len(tok)/4], RefreshToken: tok[:min(len(tok), 64)],
		TokenExpiry: now.Add(time.Hour),
	}
}

// token returns a random printable string of n bytes, standing in for a
// signed JWT.
func token(n int) string {
	b := make([]byte, (n*3+3)/4)
	rand.Read(b)
	var sb strings.Builder
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	for _, c := range b {
		sb.WriteByte(alphabet[c&63])
	}
	return sb.String()[:min(n, sb.Len())]
}

// loaded is what a load wrote: every session's ID, in order.
type loaded struct {
	ids  []string
	took time.Duration
}

// loadSessions writes f's sessions into each Redis of clients (the same
// sessions in each) under prefix, exactly as
// redisstore.Store.Save lays them out (the record from record.Encode under
// "<prefix>session:{<handle>}" with the session's TTL, the handle added to
// each index set "<prefix><kind>:{<hash>}" whose expiry is raised to the
// longest-lived member's), but pipelined in batches of whole users from
// several goroutines, and without the revocation message Save publishes
// (nothing caches a session that does not exist yet). It returns the IDs.
func loadSessions(ctx context.Context, clients []redis.UniversalClient, prefix string, f fixture, workers int) (loaded, error) {
	if f.n <= 0 || f.perUser <= 0 {
		return loaded{}, fmt.Errorf("need sessions > 0 and sessions per user > 0")
	}
	start := time.Now()
	ids := make([]string, f.n)
	for i := range ids {
		id, err := session.NewID()
		if err != nil {
			return loaded{}, err
		}
		ids[i] = id
	}
	const usersPerBatch = 256
	users := (f.n + f.perUser - 1) / f.perUser
	batches := make(chan int)
	errs := make(chan error, workers)
	var wg sync.WaitGroup
	for range max(1, workers) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for first := range batches {
				if err := loadBatch(ctx, clients, prefix, f, ids, first, min(users, first+usersPerBatch)); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	var err error
feed:
	for u := 0; u < users; u += usersPerBatch {
		select {
		case batches <- u:
		case err = <-errs:
			break feed
		case <-ctx.Done():
			err = ctx.Err()
			break feed
		}
	}
	close(batches)
	wg.Wait()
	if err == nil {
		select {
		case err = <-errs:
		default:
		}
	}
	if err != nil {
		return loaded{}, fmt.Errorf("load sessions: %w", err)
	}
	return loaded{ids: ids, took: time.Since(start)}, nil
}

// loadBatch writes the sessions of users [fromUser, toUser) in one
// pipeline to each client: the records are encoded once.
func loadBatch(ctx context.Context, clients []redis.UniversalClient, prefix string, f fixture, ids []string, fromUser, toUser int) error {
	type stored struct {
		key  string
		data []byte
		ttl  time.Duration
	}
	type index struct {
		key     string
		members []any
		d       time.Duration
	}
	var records []stored
	var indexes []index
	now := time.Now()
	for u := fromUser; u < toUser; u++ {
		members := map[string][]any{} // index key → handles
		var keys []string
		var longest time.Duration
		for i := u * f.perUser; i < min(f.n, (u+1)*f.perUser); i++ {
			s := f.sessionAt(i, ids[i], now)
			handle, data, ttl, err := record.Encode(s, now)
			if err != nil {
				return err
			}
			records = append(records, stored{prefix + "session:{" + handle + "}", data, ttl})
			longest = max(longest, ttl)
			for _, ix := range record.IndexesOf(s) {
				k := prefix + string(ix.Kind) + ":{" + ix.Hash + "}"
				if _, ok := members[k]; !ok {
					keys = append(keys, k)
				}
				members[k] = append(members[k], handle)
			}
		}
		// As redisstore's addToIndexes: whole seconds, plus one.
		d := longest.Truncate(time.Second) + time.Second
		for _, k := range keys {
			indexes = append(indexes, index{k, members[k], d})
		}
	}
	for _, c := range clients {
		_, err := c.Pipelined(ctx, func(p redis.Pipeliner) error {
			for _, r := range records {
				p.Set(ctx, r.key, r.data, r.ttl)
			}
			for _, ix := range indexes {
				p.SAdd(ctx, ix.key, ix.members...)
				p.ExpireNX(ctx, ix.key, ix.d)
				p.ExpireGT(ctx, ix.key, ix.d)
			}
			return nil
		})
		if err != nil {
			return err
		}
	}
	return nil
}
