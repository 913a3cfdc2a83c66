package coordinator

import "testing"

// Expected values follow Java's String.hashCode over UTF-16 code units (h = 31*h + c, int32
// overflow), worked out by hand for the short ones: "a" = 97, "Aa" = 65*31+97 = 2112 =
// "BB" = 66*31+66; U+1F600 is the surrogate pair D83D DE00: 31*55357 + 56832 = 1772899.
func TestJavaStringHashCode(t *testing.T) {
	cases := []struct {
		in        string
		hash      int32
		partition int32 // of 50
	}{
		{"", 0, 0},
		{"a", 97, 47},
		{"Aa", 2112, 12},
		{"BB", 2112, 12},
		{"group", 98629247, 47},
		{"my-group", -1906497762, 12},
		{"console-consumer-12345", 158455506, 6},
		{"é", 233, 33},                      // U+00E9, one code unit
		{"日本語", 25921943, 43},               // BMP, three code units
		{"😀", 1772899, 49},                  // outside the BMP: a surrogate pair
		{"g😀x", 58028462, 12},               // surrogate pair in the middle
		{"polygenelubricants", -1 << 31, 0}, // Integer.MIN_VALUE: Utils.abs gives 0
	}
	for _, c := range cases {
		if got := JavaStringHashCode(c.in); got != c.hash {
			t.Errorf("JavaStringHashCode(%q) = %d, want %d", c.in, got, c.hash)
		}
		if got := PartitionFor(c.in, 50); got != c.partition {
			t.Errorf("PartitionFor(%q, 50) = %d, want %d", c.in, got, c.partition)
		}
	}
}
