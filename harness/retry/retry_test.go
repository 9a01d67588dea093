package retry

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestUntilReturnsWhenConditionHolds(t *testing.T) {
	calls := 0
	err := Until(context.Background(), "count", time.Second, time.Millisecond, func(context.Context) error {
		calls++
		if calls < 3 {
			return ErrNotYet
		}
		return nil
	})
	require.NoError(t, err)
	require.Equal(t, 3, calls)
}

func TestUntilReportsTheLastError(t *testing.T) {
	boom := errors.New("backend-2 never answered")
	err := Until(context.Background(), "all backends", 20*time.Millisecond, time.Millisecond, func(context.Context) error { return boom })
	require.ErrorIs(t, err, boom)
	require.ErrorIs(t, err, context.DeadlineExceeded)
	require.Contains(t, err.Error(), "all backends: gave up after")
}
