package redis_test

import (
	"testing"
	"time"

	"go.uber.org/zap"

	"github.com/papyrad/papyrad/internal/backends/backendtest"
	"github.com/papyrad/papyrad/internal/backends/redis"
	"github.com/papyrad/papyrad/internal/testutil/redisserver"
)

// harness describes a redis store to the conformance suite: its events stream, trimmed in
// steps of 100 entries so that a kill can land between two of them.
func harness() *backendtest.RedisHarness {
	return &backendtest.RedisHarness{
		Name:   "redis",
		Start:  func(t *testing.T) string { return redisserver.Start(t).URL(0) },
		Stream: "papyra:local:events",
		New: func(p backendtest.Params) backendtest.RedisStore {
			return redis.New(redis.Config{
				Name: "cluster", URL: p.URL, Policy: p.Policy, Quarantine: p.Quarantine, TrimStep: 100,
				MaxRetries: 2, MinRetryBackoff: 10 * time.Millisecond, MaxRetryBackoff: 50 * time.Millisecond,
			}, zap.NewNop(), time.Now)
		},
	}
}

func TestMain(m *testing.M) { backendtest.Main(m) }

// TestConformance runs in parallel with the package's other long tests: its kill loop mostly
// waits for the runs it kills.
func TestConformance(t *testing.T) {
	t.Parallel()
	backendtest.RunRedis(t, harness())
}

func TestHelperProcess(t *testing.T) { backendtest.HelperProcess(t, harness()) }
