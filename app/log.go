package app

import (
	"os"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/hubgate/hubgate/config"
	"github.com/hubgate/hubgate/logsink"
)

// NewLogger builds the logger cfg's log_format and log_level ask for, writing to
// stderr; stop flushes what it buffered and ends its writer.
func NewLogger(cfg *config.Config) (log *zap.Logger, stop func(), err error) {
	lvl, err := zapcore.ParseLevel(string(cfg.LogLevel))
	if err != nil {
		return nil, nil, err
	}
	zc := zap.NewProductionConfig()
	zc.Level = zap.NewAtomicLevelAt(lvl)
	zc.Sampling = nil // every request gets its access line
	zc.DisableStacktrace = true
	// One write(2) per access line costs more than the rest of a cached /auth
	// decision; a buffer written from its own goroutine every 100 ms does not.
	sink := logsink.New(os.Stderr, 64<<10, 100*time.Millisecond)
	log, err = zc.Build(zap.WrapCore(func(zapcore.Core) zapcore.Core {
		return zapcore.NewCore(newEncoder(cfg.LogFormat), sink, zc.Level)
	}))
	if err != nil {
		sink.Stop()
		return nil, nil, err
	}
	return log, func() { log.Sync(); sink.Stop() }, nil
}

func newEncoder(format config.LogFormat) zapcore.Encoder {
	if format == config.LogConsole {
		return zapcore.NewConsoleEncoder(zap.NewDevelopmentEncoderConfig())
	}
	return zapcore.NewJSONEncoder(zap.NewProductionEncoderConfig())
}
