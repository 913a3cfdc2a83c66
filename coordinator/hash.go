package coordinator

import "unicode/utf16"

// JavaStringHashCode is Java's String.hashCode: h = 31*h + c over the UTF-16 code units of s,
// with 32-bit two's-complement overflow. Characters outside the Basic Multilingual Plane count
// as their surrogate pair; invalid UTF-8 bytes count as U+FFFD, as Java's decoder replaces them.
func JavaStringHashCode(s string) int32 {
	var h int32
	for _, r := range s {
		if r >= 0x10000 {
			hi, lo := utf16.EncodeRune(r)
			h = 31*h + int32(hi)
			h = 31*h + int32(lo)
			continue
		}
		h = 31*h + int32(r)
	}
	return h
}

// javaAbs is Kafka's Utils.abs: |n|, except that math.MinInt32 maps to 0.
func javaAbs(n int32) int32 {
	switch {
	case n == -1<<31:
		return 0
	case n < 0:
		return -n
	}
	return n
}

// PartitionFor is the __consumer_offsets partition that holds a group's state:
// abs(javaStringHashCode(group)) % partitions. partitions must be positive.
func PartitionFor(group string, partitions int32) int32 {
	return javaAbs(JavaStringHashCode(group)) % partitions
}
