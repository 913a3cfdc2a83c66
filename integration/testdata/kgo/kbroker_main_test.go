// Added to franz-go's kgo package (go test -overlay) when its group tests run against the
// broker: adm() asks the broker's ApiVersions once before any test starts, so that every
// test sees allow848 and allowStaticMembership set. franz-go's parallel tests otherwise
// read them before the first admin request and skip their KIP-848 variants.
package kgo

import (
	"os"
	"testing"
)

func TestMain(m *testing.M) {
	adm()
	os.Exit(m.Run())
}
