package controller

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/rs/zerolog"

	"kbroker/zkmeta"
)

// Controller campaigns for /controller and, while elected, runs the cluster.
// Its methods are safe for concurrent use.
type Controller struct {
	meta   *zkmeta.Metadata
	sender Sender
	cfg    Config
	logger zerolog.Logger

	mu      sync.Mutex
	current *term // the running term, nil when not the controller
}

// New returns a controller for broker cfg.BrokerID over meta (unfenced: the
// controller fences its own writes). It does nothing until Run.
func New(meta *zkmeta.Metadata, sender Sender, cfg Config, logger zerolog.Logger) *Controller {
	return &Controller{
		meta:   meta,
		sender: sender,
		cfg:    cfg.withDefaults(),
		logger: logger.With().Str("component", "controller").Int32("broker", cfg.BrokerID).Logger(),
	}
}

// IsActive reports whether this broker is the controller now.
func (c *Controller) IsActive() bool { return c.activeTerm() != nil }

// Epoch returns the controller epoch of the running term, 0 when not active.
func (c *Controller) Epoch() int32 {
	if t := c.activeTerm(); t != nil {
		return t.epoch
	}
	return 0
}

func (c *Controller) activeTerm() *term {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.current
}

func (c *Controller) setTerm(t *term) {
	c.mu.Lock()
	c.current = t
	c.mu.Unlock()
}

// Run campaigns for /controller and runs a term each time it is elected,
// until ctx ends. A term ends when ctx ends, when the controller finds itself
// fenced or no longer owner of /controller, or when its session expires;
// the controller then resigns (deleting /controller if it is still its own)
// and campaigns again.
func (c *Controller) Run(ctx context.Context) {
	backoff := campaignRetryBackoff
	retry := func(err error) {
		c.logger.Warn().Err(err).Dur("retry_in", backoff).Msg("controller election attempt failed")
		select {
		case <-time.After(backoff):
		case <-ctx.Done():
		}
		backoff = min(2*backoff, maxCampaignRetryBackoff)
	}
	store := c.meta.Store()
	for ctx.Err() == nil {
		_, _, watch, err := store.ExistsW(ctx, zkmeta.ControllerPath)
		if err != nil {
			retry(err)
			continue
		}
		won, epoch, zkVersion, err := c.meta.TryElectController(ctx, c.cfg.BrokerID)
		if err != nil {
			retry(err)
			continue
		}
		if !won {
			backoff = campaignRetryBackoff
			select {
			case <-watch:
			case <-ctx.Done():
			}
			continue
		}
		c.logger.Info().Int32("epoch", epoch).Msg("elected controller")
		err = c.runTerm(ctx, epoch, zkVersion)
		c.resign(err)
		if err != nil && ctx.Err() == nil {
			retry(err)
		}
	}
}

// resign deletes /controller if it is still this session's, so that another
// broker (or this one) can be elected.
func (c *Controller) resign(cause error) {
	ctx, cancel := context.WithTimeout(context.Background(), c.cfg.RequestTimeout)
	defer cancel()
	if err := c.meta.ResignController(ctx, c.cfg.BrokerID); err != nil && !isSessionGone(err) {
		c.logger.Warn().Err(err).Msg("deleting /controller on resignation")
	}
	ev := c.logger.Info()
	if cause != nil {
		ev = ev.Err(cause)
	}
	ev.Msg("resigned as controller")
}

// runTerm runs one term as controller; it returns nil when ctx ended and the
// reason otherwise.
func (c *Controller) runTerm(ctx context.Context, epoch, zkVersion int32) error {
	t := newTerm(ctx, c, epoch, zkVersion)
	c.setTerm(t)
	defer func() {
		c.setTerm(nil)
		t.close()
	}()
	err := t.run()
	if ctx.Err() != nil {
		return nil
	}
	return err
}

// isSessionGone reports errors after which the session cannot be used.
func isSessionGone(err error) bool {
	return errors.Is(err, zkmeta.ErrSessionExpired) || errors.Is(err, zkmeta.ErrClosed)
}
