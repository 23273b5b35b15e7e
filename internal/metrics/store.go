package metrics

import (
	"context"
	"errors"
	"time"

	"github.com/gatehouse/gatehouse/internal/session"
)

// InstrumentStore returns mg with the latency and failures of its
// request-path operations (Load, Save, Delete) recorded. A session that is
// not found is not a failure.
func (m *Metrics) InstrumentStore(mg session.Manager) session.Manager {
	return &instrumentedStore{Manager: mg, m: m}
}

type instrumentedStore struct {
	session.Manager
	m *Metrics
}

func (s *instrumentedStore) record(op string, start time.Time, err error) {
	s.m.StoreOp(op, time.Since(start), err != nil && !errors.Is(err, session.ErrNotFound) && !errors.Is(err, session.ErrInvalidID))
}

func (s *instrumentedStore) Load(ctx context.Context, id string) (*session.Session, error) {
	start := time.Now()
	sess, err := s.Manager.Load(ctx, id)
	s.record("load", start, err)
	return sess, err
}

// LoadIdentity uses the inner store's token-less lookup when it has one.
func (s *instrumentedStore) LoadIdentity(ctx context.Context, id string) (*session.Session, error) {
	il, ok := s.Manager.(session.IdentityLoader)
	if !ok {
		return s.Load(ctx, id)
	}
	start := time.Now()
	sess, err := il.LoadIdentity(ctx, id)
	s.record("load", start, err)
	return sess, err
}

func (s *instrumentedStore) Save(ctx context.Context, sess *session.Session) error {
	start := time.Now()
	err := s.Manager.Save(ctx, sess)
	s.record("save", start, err)
	return err
}

func (s *instrumentedStore) Delete(ctx context.Context, id string) error {
	start := time.Now()
	err := s.Manager.Delete(ctx, id)
	s.record("delete", start, err)
	return err
}
