package controller

// Leader election algorithms (Kafka's PartitionLeaderElectionAlgorithms).
// live reports whether a broker is registered and not shutting down.

// electNew picks the leader of a new partition: the first live replica; the
// ISR is every live replica, in assignment order.
func electNew(replicas []int32, live func(int32) bool) (leader int32, isr []int32, ok bool) {
	for _, r := range replicas {
		if live(r) {
			isr = append(isr, r)
		}
	}
	if len(isr) == 0 {
		return -1, nil, false
	}
	return isr[0], isr, true
}

// electOffline picks the leader of a partition whose leader is gone: the
// first replica that is live and in the ISR, with the ISR cut to its live
// members. Without one, and only when unclean() allows it, the first live
// replica becomes leader with itself as the ISR (recovering = true).
func electOffline(replicas, isr []int32, live func(int32) bool, unclean func() bool) (leader int32, newISR []int32, recovering, ok bool) {
	for _, r := range replicas {
		if live(r) && contains(isr, r) {
			for _, m := range isr {
				if live(m) {
					newISR = append(newISR, m)
				}
			}
			return r, newISR, false, true
		}
	}
	for _, r := range replicas {
		if live(r) {
			if unclean == nil || !unclean() {
				return -1, nil, false, false
			}
			return r, []int32{r}, true, true
		}
	}
	return -1, nil, false, false
}

// electPreferred picks assignment[0] if it is live and in the ISR.
func electPreferred(replicas, isr []int32, live func(int32) bool) (leader int32, ok bool) {
	if len(replicas) == 0 {
		return -1, false
	}
	r := replicas[0]
	if live(r) && contains(isr, r) {
		return r, true
	}
	return -1, false
}

// electControlledShutdown picks the first replica that is live (not shutting
// down) and in the ISR; the new ISR drops every shutting-down broker.
func electControlledShutdown(replicas, isr []int32, live, shuttingDown func(int32) bool) (leader int32, newISR []int32, ok bool) {
	for _, r := range replicas {
		if live(r) && contains(isr, r) {
			for _, m := range isr {
				if !shuttingDown(m) {
					newISR = append(newISR, m)
				}
			}
			return r, newISR, true
		}
	}
	return -1, nil, false
}

// removeFromISR takes replica out of an ISR, never emptying it; the leader
// becomes -1 when it was that replica.
func removeFromISR(leader int32, isr []int32, replica int32) (newLeader int32, newISR []int32) {
	newLeader = leader
	if leader == replica {
		newLeader = -1
	}
	if len(isr) <= 1 {
		return newLeader, append([]int32(nil), isr...)
	}
	for _, m := range isr {
		if m != replica {
			newISR = append(newISR, m)
		}
	}
	return newLeader, newISR
}
