package controller

import "time"

// Config is what the controller needs of the broker's configuration.
type Config struct {
	// BrokerID is this broker's id, written into /controller when elected.
	BrokerID int32

	// AutoLeaderRebalanceEnable is auto.leader.rebalance.enable.
	AutoLeaderRebalanceEnable bool
	// LeaderImbalanceCheckInterval is leader.imbalance.check.interval.seconds
	// (default 300 s). The first check runs 5 s (or one interval when
	// shorter) after the controller is elected.
	LeaderImbalanceCheckInterval time.Duration
	// LeaderImbalancePerBrokerPercentage is
	// leader.imbalance.per.broker.percentage (default 10).
	LeaderImbalancePerBrokerPercentage int

	// UncleanLeaderElection returns whether a topic allows unclean election
	// (topic override > broker default). Nil means never.
	UncleanLeaderElection func(topicOverrides map[string]string) bool

	// DeleteTopicEnable is delete.topic.enable; when false, deletion
	// markers are removed without deleting.
	DeleteTopicEnable bool

	// RequestTimeout bounds one request to a broker (default 30 s).
	RequestTimeout time.Duration

	// InterBrokerListener is the listener brokers reach each other on (the endpoint given
	// in LeaderAndIsr's live leaders); empty = each broker's first endpoint.
	InterBrokerListener string
	// OnElection, when set, is told of every partition leader change the controller writes
	// (metrics), and whether it was an unclean election.
	OnElection func(unclean bool)
}

const (
	defaultRequestTimeout     = 30 * time.Second
	defaultImbalanceInterval  = 300 * time.Second
	defaultImbalancePercent   = 10
	firstRebalanceDelay       = 5 * time.Second
	campaignRetryBackoff      = 100 * time.Millisecond
	maxCampaignRetryBackoff   = 2 * time.Second
	sendRetryBackoff          = 50 * time.Millisecond
	maxSendRetryBackoff       = 2 * time.Second
	maxPartitionWriteAttempts = 5
)

// withDefaults fills the zero fields.
func (c Config) withDefaults() Config {
	if c.RequestTimeout <= 0 {
		c.RequestTimeout = defaultRequestTimeout
	}
	if c.LeaderImbalanceCheckInterval <= 0 {
		c.LeaderImbalanceCheckInterval = defaultImbalanceInterval
	}
	if c.LeaderImbalancePerBrokerPercentage <= 0 {
		c.LeaderImbalancePerBrokerPercentage = defaultImbalancePercent
	}
	return c
}
