package protocol

import "github.com/twmb/franz-go/pkg/kmsg"

// apiInfo is what the header logic needs to know about one API key, read once
// from kmsg.
type apiInfo struct {
	known       bool
	maxVersion  int16 // kmsg's highest version for the key
	flexibleMin int16 // first flexible version; -1 when no version is flexible
}

// maxProbedKey bounds the keys asked of kmsg when the table is built.
const maxProbedKey = 512

// apiTable is indexed by API key. It is built once and only read afterwards.
var apiTable = buildAPITable()

func buildAPITable() []apiInfo {
	var table []apiInfo
	for k := int16(0); k < maxProbedKey; k++ {
		req := kmsg.RequestForKey(k)
		if req == nil {
			continue
		}
		info := apiInfo{known: true, maxVersion: req.MaxVersion(), flexibleMin: -1}
		for v := int16(0); v <= info.maxVersion; v++ {
			req.SetVersion(v)
			if req.IsFlexible() {
				info.flexibleMin = v
				break
			}
		}
		for int(k) >= len(table) {
			table = append(table, apiInfo{})
		}
		table[k] = info
	}
	return table
}

func lookupAPI(key int16) (apiInfo, bool) {
	if key < 0 || int(key) >= len(apiTable) || !apiTable[key].known {
		return apiInfo{}, false
	}
	return apiTable[key], true
}

// KnownAPIKey reports whether kmsg knows the request type for key.
func KnownAPIKey(key int16) bool {
	_, ok := lookupAPI(key)
	return ok
}

// MaxKnownVersion returns kmsg's highest version for key, or -1 for an
// unknown key.
func MaxKnownVersion(key int16) int16 {
	info, ok := lookupAPI(key)
	if !ok {
		return -1
	}
	return info.maxVersion
}

// IsFlexible reports whether (key, version) uses the flexible encoding of
// KIP-482 (compact strings and arrays, tagged fields). A version above kmsg's
// maximum takes the flexibility of that maximum; an unknown key or a negative
// version is not flexible.
func IsFlexible(key, version int16) bool {
	info, ok := lookupAPI(key)
	if !ok || version < 0 || info.flexibleMin < 0 {
		return false
	}
	if version > info.maxVersion {
		version = info.maxVersion
	}
	return version >= info.flexibleMin
}
