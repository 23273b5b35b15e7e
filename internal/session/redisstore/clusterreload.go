package redisstore

import (
	"context"
	"errors"
	"io"
	"net"

	"github.com/redis/go-redis/v9"
)

// clusterReload is a go-redis hook on a Cluster client: a command or
// pipeline that fails without a reply from Redis (a refused, reset or
// timed-out connection: a master died or hangs) asks the client to reload
// its slot map in the background. go-redis reloads the map by itself only
// on a MOVED or ASK reply, which a dead master never sends, or every
// ClusterStateReloadInterval (a minute); without this hook, the slots of a
// killed master stay unreachable for up to that minute after its replica
// has taken them over. The reload is go-redis's own LazyReload, which runs
// one at a time with a 200 ms pause between runs, so a failing node costs
// at most a few CLUSTER SLOTS calls a second.
type clusterReload struct{ client *redis.ClusterClient }

var _ redis.Hook = clusterReload{}

func (h clusterReload) DialHook(next redis.DialHook) redis.DialHook { return next }

func (h clusterReload) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		err := next(ctx, cmd)
		h.after(ctx, err)
		return err
	}
}

func (h clusterReload) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		err := next(ctx, cmds)
		h.after(ctx, err)
		return err
	}
}

func (h clusterReload) after(ctx context.Context, err error) {
	if noReply(err) {
		h.client.ReloadState(ctx)
	}
}

// noReply reports whether err means no node answered: not a Redis reply
// (redis.Nil, a script or type error, CLUSTERDOWN while the cluster
// elects a replica), nor a caller that gave up, nor a closed client.
func noReply(err error) bool {
	if err == nil || errors.Is(err, redis.Nil) || errors.Is(err, context.Canceled) || errors.Is(err, redis.ErrClosed) {
		return false
	}
	var reply redis.Error
	if errors.As(err, &reply) {
		return false
	}
	var netErr net.Error
	return errors.As(err, &netErr) || errors.Is(err, context.DeadlineExceeded) ||
		errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF)
}
