package metrics

import (
	"context"
	"errors"
	"time"

	"github.com/gatehouse/gatehouse/internal/session"
)

// InstrumentStore returns st with the latency and failures of its
// request-path operations (every read of the session.Reader, Load, Save,
// Update, Delete) recorded. A session that is not found is not a failure.
// Each read goes to the same read of st, so the layers below (idle timeout,
// cache) see every lookup.
func (m *Metrics) InstrumentStore(st session.ReadManager) session.ReadManager {
	return &instrumentedStore{ReadManager: st, m: m}
}

type instrumentedStore struct {
	session.ReadManager
	m *Metrics
}

var _ session.ReadManager = (*instrumentedStore)(nil)

func (s *instrumentedStore) record(op string, start time.Time, err error) {
	s.m.StoreOp(op, time.Since(start), err != nil && !errors.Is(err, session.ErrNotFound) && !errors.Is(err, session.ErrInvalidID))
}

func (s *instrumentedStore) Load(ctx context.Context, id string) (*session.Session, error) {
	start := time.Now()
	sess, err := s.ReadManager.Load(ctx, id)
	s.record("load", start, err)
	return sess, err
}

func (s *instrumentedStore) LoadIdentity(ctx context.Context, id string) (*session.Session, error) {
	start := time.Now()
	sess, err := s.ReadManager.LoadIdentity(ctx, id)
	s.record("load", start, err)
	return sess, err
}

func (s *instrumentedStore) LoadWithTokens(ctx context.Context, id string) (*session.Session, error) {
	start := time.Now()
	sess, err := s.ReadManager.LoadWithTokens(ctx, id)
	s.record("load", start, err)
	return sess, err
}

func (s *instrumentedStore) Save(ctx context.Context, sess *session.Session) error {
	start := time.Now()
	err := s.ReadManager.Save(ctx, sess)
	s.record("save", start, err)
	return err
}

func (s *instrumentedStore) Update(ctx context.Context, sess *session.Session) error {
	start := time.Now()
	err := s.ReadManager.Update(ctx, sess)
	s.record("save", start, err)
	return err
}

func (s *instrumentedStore) Delete(ctx context.Context, id string) error {
	start := time.Now()
	err := s.ReadManager.Delete(ctx, id)
	s.record("delete", start, err)
	return err
}
