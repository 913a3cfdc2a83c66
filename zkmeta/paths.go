package zkmeta

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net"
	"sort"
	"strconv"
	"strings"
)

// Every znode path and JSON payload of Kafka's ZooKeeper layout that the
// broker uses is in this file (Kafka's ZkData.scala). JSON is read field by
// field, in any key order; numbers Kafka writes as strings are read from
// strings or numbers.

// Top-level znodes.
const (
	ConsumersPath               = "/consumers"
	BrokersPath                 = "/brokers"
	BrokerIDsPath               = "/brokers/ids"
	BrokerTopicsPath            = "/brokers/topics"
	BrokerSeqIDPath             = "/brokers/seqid"
	ConfigPath                  = "/config"
	ConfigChangesPath           = "/config/changes"
	AdminPath                   = "/admin"
	DeleteTopicsPath            = "/admin/delete_topics"
	ReassignPartitionsPath      = "/admin/reassign_partitions"
	IsrChangeNotificationPath   = "/isr_change_notification"
	LogDirEventNotificationPath = "/log_dir_event_notification"
	ProducerIDBlockPath         = "/latest_producer_id_block"
	ClusterPath                 = "/cluster"
	ClusterIDPath               = "/cluster/id"
	ControllerPath              = "/controller"
	ControllerEpochPath         = "/controller_epoch"
)

// Config entity types, the children of /config.
const (
	ConfigTopics  = "topics"
	ConfigClients = "clients"
	ConfigUsers   = "users"
	ConfigBrokers = "brokers"
	ConfigIPs     = "ips"
)

// configChangePrefix names the sequential change notifications.
const configChangePrefix = "config_change_"

// ConfigChangePath is /config/changes/<name>; with name = "config_change_"
// it is the path to create sequentially.
func ConfigChangePath(name string) string { return ConfigChangesPath + "/" + name }

// persistentPaths are created at start with null data (Kafka's
// PersistentZkPaths plus /cluster).
func persistentPaths() []string {
	return []string{
		ConsumersPath, BrokerIDsPath, BrokerTopicsPath, BrokerSeqIDPath, ConfigChangesPath,
		DeleteTopicsPath, IsrChangeNotificationPath, ProducerIDBlockPath, LogDirEventNotificationPath,
		ConfigPath + "/" + ConfigTopics, ConfigPath + "/" + ConfigClients, ConfigPath + "/" + ConfigUsers,
		ConfigPath + "/" + ConfigBrokers, ConfigPath + "/" + ConfigIPs, ClusterPath,
	}
}

// BrokerPath is /brokers/ids/<id>, the broker's ephemeral registration.
func BrokerPath(id int32) string { return BrokerIDsPath + "/" + strconv.Itoa(int(id)) }

// TopicPath is /brokers/topics/<topic>, the replica assignment.
func TopicPath(topic string) string { return BrokerTopicsPath + "/" + topic }

// TopicPartitionsPath is /brokers/topics/<topic>/partitions.
func TopicPartitionsPath(topic string) string { return TopicPath(topic) + "/partitions" }

// PartitionPath is /brokers/topics/<topic>/partitions/<p>.
func PartitionPath(topic string, p int32) string {
	return TopicPartitionsPath(topic) + "/" + strconv.Itoa(int(p))
}

// PartitionStatePath is /brokers/topics/<topic>/partitions/<p>/state.
func PartitionStatePath(topic string, p int32) string { return PartitionPath(topic, p) + "/state" }

// ConfigEntityPath is /config/<type>/<name>.
func ConfigEntityPath(entityType, name string) string {
	return ConfigPath + "/" + entityType + "/" + name
}

// DeleteTopicPath is /admin/delete_topics/<topic>, the deletion marker.
func DeleteTopicPath(topic string) string { return DeleteTopicsPath + "/" + topic }

// flexInt64 reads a JSON number or a string holding one.
type flexInt64 int64

func (f *flexInt64) UnmarshalJSON(b []byte) error {
	s := string(bytes.Trim(b, `"`))
	if s == "null" || s == "" {
		*f = 0
		return nil
	}
	v, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return fmt.Errorf("not an integer: %s", b)
	}
	*f = flexInt64(v)
	return nil
}

func decodeJSON(path string, data []byte, v any) error {
	if err := json.Unmarshal(data, v); err != nil {
		return fmt.Errorf("zkmeta: %s: bad JSON: %w", path, err)
	}
	return nil
}

// ---- /cluster/id: {"version":"1","id":"<22 chars>"}

type clusterIDJSON struct {
	Version string `json:"version"`
	ID      string `json:"id"`
}

func encodeClusterID(id string) []byte {
	b, _ := json.Marshal(clusterIDJSON{Version: "1", ID: id})
	return b
}

func decodeClusterID(data []byte) (string, error) {
	var v struct {
		ID string `json:"id"`
	}
	if err := decodeJSON(ClusterIDPath, data, &v); err != nil {
		return "", err
	}
	if v.ID == "" {
		return "", fmt.Errorf("zkmeta: %s: no id", ClusterIDPath)
	}
	return v.ID, nil
}

// ---- /brokers/ids/<id>, version 5:
// {"features":{},"listener_security_protocol_map":{"PLAINTEXT":"PLAINTEXT"},
//  "endpoints":["PLAINTEXT://host:9092"],"jmx_port":-1,"port":9092,"host":"host",
//  "version":5,"timestamp":"1700000000000"[,"rack":"r"]}

type brokerJSON struct {
	Version                     int                          `json:"version"`
	Host                        *string                      `json:"host"`
	Port                        int32                        `json:"port"`
	JmxPort                     int32                        `json:"jmx_port"`
	Timestamp                   string                       `json:"timestamp"`
	Endpoints                   []string                     `json:"endpoints"`
	ListenerSecurityProtocolMap map[string]string            `json:"listener_security_protocol_map"`
	Rack                        *string                      `json:"rack,omitempty"`
	Features                    map[string]brokerFeatureJSON `json:"features"`
}

type brokerFeatureJSON struct {
	MinVersion int16 `json:"min_version"`
	MaxVersion int16 `json:"max_version"`
}

// endpointString renders LISTENER://host:port with IPv6 hosts bracketed.
func endpointString(e Endpoint) string {
	return e.Listener + "://" + net.JoinHostPort(e.Host, strconv.Itoa(int(e.Port)))
}

func encodeBroker(b BrokerInfo, nowMs int64) []byte {
	v := brokerJSON{
		Version:                     5,
		Port:                        -1,
		JmxPort:                     -1,
		Timestamp:                   strconv.FormatInt(nowMs, 10),
		Endpoints:                   make([]string, 0, len(b.Endpoints)),
		ListenerSecurityProtocolMap: map[string]string{},
		Features:                    map[string]brokerFeatureJSON{},
	}
	for _, e := range b.Endpoints {
		v.Endpoints = append(v.Endpoints, endpointString(e))
		v.ListenerSecurityProtocolMap[e.Listener] = e.SecurityProtocol
		if v.Host == nil && e.SecurityProtocol == "PLAINTEXT" {
			host := e.Host
			v.Host, v.Port = &host, e.Port
		}
	}
	if b.Rack != "" {
		rack := b.Rack
		v.Rack = &rack
	}
	out, _ := json.Marshal(v)
	return out
}

func decodeBroker(id int32, data []byte) (BrokerInfo, error) {
	path := BrokerPath(id)
	var v struct {
		Host        *string           `json:"host"`
		Port        int32             `json:"port"`
		Endpoints   []string          `json:"endpoints"`
		ProtocolMap map[string]string `json:"listener_security_protocol_map"`
		Rack        *string           `json:"rack"`
	}
	if err := decodeJSON(path, data, &v); err != nil {
		return BrokerInfo{}, err
	}
	b := BrokerInfo{ID: id}
	if v.Rack != nil {
		b.Rack = *v.Rack
	}
	for _, s := range v.Endpoints {
		i := strings.Index(s, "://")
		if i <= 0 {
			return BrokerInfo{}, fmt.Errorf("zkmeta: %s: bad endpoint %q", path, s)
		}
		host, port, err := net.SplitHostPort(s[i+3:])
		if err != nil {
			return BrokerInfo{}, fmt.Errorf("zkmeta: %s: bad endpoint %q: %w", path, s, err)
		}
		p, err := strconv.ParseInt(port, 10, 32)
		if err != nil {
			return BrokerInfo{}, fmt.Errorf("zkmeta: %s: bad endpoint port %q", path, s)
		}
		e := Endpoint{Listener: s[:i], SecurityProtocol: s[:i], Host: host, Port: int32(p)}
		if sp, ok := v.ProtocolMap[e.Listener]; ok {
			e.SecurityProtocol = sp
		}
		b.Endpoints = append(b.Endpoints, e)
	}
	if len(b.Endpoints) == 0 && v.Host != nil && v.Port >= 0 {
		// Registrations older than version 2 have only host and port.
		b.Endpoints = []Endpoint{{Listener: "PLAINTEXT", SecurityProtocol: "PLAINTEXT", Host: *v.Host, Port: v.Port}}
	}
	return b, nil
}

// ---- /brokers/topics/<t>:
// {"version":3,"partitions":{"0":[1,2]},"topic_id":"<22 chars>","adding_replicas":{},"removing_replicas":{}}

type topicJSON struct {
	Version          int                `json:"version"`
	Partitions       map[string][]int32 `json:"partitions"`
	TopicID          string             `json:"topic_id,omitempty"`
	AddingReplicas   map[string][]int32 `json:"adding_replicas"`
	RemovingReplicas map[string][]int32 `json:"removing_replicas"`
}

func partitionMapJSON(m map[int32][]int32) map[string][]int32 {
	out := make(map[string][]int32, len(m))
	for p, r := range m {
		if r == nil {
			r = []int32{}
		}
		out[strconv.Itoa(int(p))] = r
	}
	return out
}

func partitionMapFromJSON(path string, m map[string][]int32) (map[int32][]int32, error) {
	out := make(map[int32][]int32, len(m))
	for k, r := range m {
		p, err := strconv.ParseInt(k, 10, 32)
		if err != nil || p < 0 {
			return nil, fmt.Errorf("zkmeta: %s: bad partition %q", path, k)
		}
		if r == nil {
			r = []int32{}
		}
		out[int32(p)] = r
	}
	return out, nil
}

func encodeTopic(t TopicAssignment) []byte {
	v := topicJSON{
		Version:          3,
		Partitions:       partitionMapJSON(t.Partitions),
		AddingReplicas:   partitionMapJSON(t.AddingReplicas),
		RemovingReplicas: partitionMapJSON(t.RemovingReplicas),
	}
	if t.ID != ([16]byte{}) {
		v.TopicID = EncodeUUID(t.ID)
	}
	out, _ := json.Marshal(v)
	return out
}

func decodeTopic(name string, data []byte) (TopicAssignment, error) {
	path := TopicPath(name)
	var v topicJSON
	if err := decodeJSON(path, data, &v); err != nil {
		return TopicAssignment{}, err
	}
	t := TopicAssignment{Name: name}
	var err error
	if t.Partitions, err = partitionMapFromJSON(path, v.Partitions); err != nil {
		return TopicAssignment{}, err
	}
	if t.AddingReplicas, err = partitionMapFromJSON(path, v.AddingReplicas); err != nil {
		return TopicAssignment{}, err
	}
	if t.RemovingReplicas, err = partitionMapFromJSON(path, v.RemovingReplicas); err != nil {
		return TopicAssignment{}, err
	}
	if v.TopicID != "" {
		if t.ID, err = DecodeUUID(v.TopicID); err != nil {
			return TopicAssignment{}, fmt.Errorf("zkmeta: %s: %w", path, err)
		}
	}
	return t, nil
}

// ---- /brokers/topics/<t>/partitions/<p>/state:
// {"controller_epoch":1,"leader":0,"version":1,"leader_epoch":0,"isr":[0]}
// plus "leader_recovery_state":1 only while RECOVERING.

type partitionStateJSON struct {
	ControllerEpoch     int32   `json:"controller_epoch"`
	Leader              int32   `json:"leader"`
	Version             int     `json:"version"`
	LeaderEpoch         int32   `json:"leader_epoch"`
	ISR                 []int32 `json:"isr"`
	LeaderRecoveryState *int32  `json:"leader_recovery_state,omitempty"`
}

// LeaderRecoveryRecovering is the leader_recovery_state of a partition whose
// leader was elected uncleanly and is still recovering (KIP-704).
const LeaderRecoveryRecovering int32 = 1

func encodePartitionState(st PartitionState) []byte {
	v := partitionStateJSON{
		ControllerEpoch: st.ControllerEpoch,
		Leader:          st.Leader,
		Version:         1,
		LeaderEpoch:     st.LeaderEpoch,
		ISR:             st.ISR,
	}
	if v.ISR == nil {
		v.ISR = []int32{}
	}
	if st.LeaderRecoveryState == LeaderRecoveryRecovering {
		rs := st.LeaderRecoveryState
		v.LeaderRecoveryState = &rs
	}
	out, _ := json.Marshal(v)
	return out
}

func decodePartitionState(path string, data []byte) (PartitionState, error) {
	v := partitionStateJSON{Leader: -1}
	if err := decodeJSON(path, data, &v); err != nil {
		return PartitionState{}, err
	}
	st := PartitionState{
		Leader:          v.Leader,
		LeaderEpoch:     v.LeaderEpoch,
		ISR:             v.ISR,
		ControllerEpoch: v.ControllerEpoch,
	}
	if st.ISR == nil {
		st.ISR = []int32{}
	}
	if v.LeaderRecoveryState != nil {
		st.LeaderRecoveryState = *v.LeaderRecoveryState
	}
	return st, nil
}

// ---- /config/<type>/<name>: {"version":1,"config":{"k":"v"}}

type configJSON struct {
	Version int               `json:"version"`
	Config  map[string]string `json:"config"`
}

func encodeConfig(cfg map[string]string) []byte {
	if cfg == nil {
		cfg = map[string]string{}
	}
	out, _ := json.Marshal(configJSON{Version: 1, Config: cfg})
	return out
}

func decodeConfig(path string, data []byte) (map[string]string, error) {
	if len(data) == 0 {
		return map[string]string{}, nil
	}
	var v configJSON
	if err := decodeJSON(path, data, &v); err != nil {
		return nil, err
	}
	if v.Config == nil {
		v.Config = map[string]string{}
	}
	return v.Config, nil
}

// ---- /config/changes/config_change_<seq>: {"version":2,"entity_path":"topics/<t>"}
// (version 1, still read: {"version":1,"entity_type":"topics","entity_name":"<t>"})

type configChangeJSON struct {
	Version    int    `json:"version"`
	EntityPath string `json:"entity_path,omitempty"`
	EntityType string `json:"entity_type,omitempty"`
	EntityName string `json:"entity_name,omitempty"`
}

func encodeConfigChange(entityType, name string) []byte {
	out, _ := json.Marshal(configChangeJSON{Version: 2, EntityPath: entityType + "/" + name})
	return out
}

func decodeConfigChange(path string, data []byte) (entityType, name string, err error) {
	var v configChangeJSON
	if err := decodeJSON(path, data, &v); err != nil {
		return "", "", err
	}
	if v.Version == 1 {
		return v.EntityType, v.EntityName, nil
	}
	i := strings.IndexByte(v.EntityPath, '/')
	if i <= 0 {
		return "", "", fmt.Errorf("zkmeta: %s: bad entity_path %q", path, v.EntityPath)
	}
	return v.EntityPath[:i], v.EntityPath[i+1:], nil
}

// ---- /latest_producer_id_block: {"version":1,"broker":0,"block_start":"0","block_end":"999"}

type producerIDBlockJSON struct {
	Version    int    `json:"version"`
	Broker     int32  `json:"broker"`
	BlockStart string `json:"block_start"`
	BlockEnd   string `json:"block_end"`
}

func encodeProducerIDBlock(broker int32, start, end int64) []byte {
	out, _ := json.Marshal(producerIDBlockJSON{
		Version:    1,
		Broker:     broker,
		BlockStart: strconv.FormatInt(start, 10),
		BlockEnd:   strconv.FormatInt(end, 10),
	})
	return out
}

func decodeProducerIDBlock(data []byte) (start, end int64, err error) {
	var v struct {
		BlockStart flexInt64 `json:"block_start"`
		BlockEnd   flexInt64 `json:"block_end"`
	}
	if err := decodeJSON(ProducerIDBlockPath, data, &v); err != nil {
		return 0, 0, err
	}
	return int64(v.BlockStart), int64(v.BlockEnd), nil
}

// ---- /admin/reassign_partitions:
// {"version":1,"partitions":[{"topic":"t","partition":0,"replicas":[1,2],"log_dirs":["any","any"]}]}
// (log_dirs is optional; only "any" is supported, as by Kafka's controller in ZooKeeper mode).

type reassignmentJSON struct {
	Version    int                         `json:"version"`
	Partitions []reassignmentPartitionJSON `json:"partitions"`
}

type reassignmentPartitionJSON struct {
	Topic     string   `json:"topic"`
	Partition int32    `json:"partition"`
	Replicas  []int32  `json:"replicas"`
	LogDirs   []string `json:"log_dirs,omitempty"`
}

func encodeReassignments(rs []PartitionReassignment) []byte {
	v := reassignmentJSON{Version: 1, Partitions: []reassignmentPartitionJSON{}}
	for _, r := range rs {
		v.Partitions = append(v.Partitions, reassignmentPartitionJSON{Topic: r.Topic, Partition: r.Partition, Replicas: r.Replicas})
	}
	out, _ := json.Marshal(v)
	return out
}

func decodeReassignments(data []byte) ([]PartitionReassignment, error) {
	var v struct {
		Version    int `json:"version"`
		Partitions []struct {
			Topic     *string `json:"topic"`
			Partition *int32  `json:"partition"`
			Replicas  []int32 `json:"replicas"`
		} `json:"partitions"`
	}
	if err := decodeJSON(ReassignPartitionsPath, data, &v); err != nil {
		return nil, err
	}
	if v.Version != 1 {
		return nil, fmt.Errorf("zkmeta: %s: unsupported version %d", ReassignPartitionsPath, v.Version)
	}
	out := make([]PartitionReassignment, 0, len(v.Partitions))
	for _, p := range v.Partitions {
		if p.Topic == nil || p.Partition == nil {
			return nil, fmt.Errorf("zkmeta: %s: partition without topic or partition", ReassignPartitionsPath)
		}
		out = append(out, PartitionReassignment{Topic: *p.Topic, Partition: *p.Partition, Replicas: p.Replicas})
	}
	return out, nil
}

// ---- /controller: {"version":2,"brokerid":0,"timestamp":"1700000000000","kraftControllerEpoch":-1}

type controllerJSON struct {
	Version              int    `json:"version"`
	BrokerID             int32  `json:"brokerid"`
	Timestamp            string `json:"timestamp"`
	KRaftControllerEpoch int32  `json:"kraftControllerEpoch"`
}

func encodeController(brokerID int32, nowMs int64) []byte {
	out, _ := json.Marshal(controllerJSON{
		Version:              2,
		BrokerID:             brokerID,
		Timestamp:            strconv.FormatInt(nowMs, 10),
		KRaftControllerEpoch: -1,
	})
	return out
}

func decodeController(data []byte) (int32, error) {
	var v struct {
		BrokerID *int32 `json:"brokerid"`
	}
	if err := decodeJSON(ControllerPath, data, &v); err != nil {
		return 0, err
	}
	if v.BrokerID == nil {
		return 0, fmt.Errorf("zkmeta: %s: no brokerid", ControllerPath)
	}
	return *v.BrokerID, nil
}

// ---- /controller_epoch: decimal text, not JSON.

func encodeControllerEpoch(epoch int32) []byte { return []byte(strconv.Itoa(int(epoch))) }

func decodeControllerEpoch(data []byte) (int32, error) {
	v, err := strconv.ParseInt(strings.TrimSpace(string(data)), 10, 32)
	if err != nil {
		return 0, fmt.Errorf("zkmeta: %s: bad epoch %q", ControllerEpochPath, data)
	}
	return int32(v), nil
}

// sortedPartitions returns the keys of m in order.
func sortedPartitions[V any](m map[int32]V) []int32 {
	out := make([]int32, 0, len(m))
	for p := range m {
		out = append(out, p)
	}
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out
}
