// Package quota meters rates the way Kafka's quota managers do and decides throttling.
//
//   - Rate is Kafka's sampled Rate: samples in num windows of size each; the rate is the sum of
//     the samples still in the windows divided by the time they cover, counted as at least
//     num-1 whole windows (so a new client cannot burst far beyond its quota). Throttle is
//     QuotaUtils.throttleTime: how long the client must stay quiet for the measured rate to fall
//     back to the bound.
//   - Replication is the replication throttle of one side (leader.replication.throttled.rate
//     or follower.replication.throttled.rate, over replication.quota.window.num windows of
//     replication.quota.window.size.seconds): the bytes of throttled replicas are recorded and a
//     throttled replica outside the ISR gets no data while the rate is above the limit (Kafka's
//     ReplicationQuotaManager). ThrottledReplicas parses the topic configs
//     leader/follower.replication.throttled.replicas.
//
// Everything here is safe for concurrent use and takes the time as an argument.
package quota
