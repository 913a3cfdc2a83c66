package txn

// Request events. Req identifies the request; its answer is a Reply with the same Req.

// InitProducerID is an InitProducerId request with a transactional id. ProducerID and
// ProducerEpoch are the client's current ones (KIP-360, v3+), -1 when it has none.
type InitProducerID struct {
	Req           uint64
	TxnID         string
	TimeoutMs     int32
	ProducerID    int64
	ProducerEpoch int16
}

// InitResult answers an InitProducerID.
type InitResult struct {
	Err           int16
	ProducerID    int64
	ProducerEpoch int16
}

// AddPartitions is an AddPartitionsToTxn request from a producer (v0-3, or a v4
// transaction without VerifyOnly): the partitions join the transaction.
type AddPartitions struct {
	Req           uint64
	TxnID         string
	ProducerID    int64
	ProducerEpoch int16
	Partitions    []TopicPartition
}

// ErrResult answers requests whose answer is one error code (AddPartitions, AddOffsets,
// EndTxn).
type ErrResult struct{ Err int16 }

// VerifyPartitions is an AddPartitionsToTxn v4 transaction with VerifyOnly (KIP-890): a
// partition leader asks whether partitions are part of the producer's transaction.
type VerifyPartitions struct {
	Req           uint64
	TxnID         string
	ProducerID    int64
	ProducerEpoch int16
	Partitions    []TopicPartition
}

// VerifyResult has one error code per partition, in request order.
type VerifyResult struct{ Errs []int16 }

// AddOffsets is an AddOffsetsToTxn request: the group's __consumer_offsets partition joins
// the transaction.
type AddOffsets struct {
	Req           uint64
	TxnID         string
	ProducerID    int64
	ProducerEpoch int16
	Group         string
}

// EndTxn is an EndTxn request: commit (Commit true) or abort the transaction.
type EndTxn struct {
	Req           uint64
	TxnID         string
	ProducerID    int64
	ProducerEpoch int16
	Commit        bool
}

// DescribeTxns is a DescribeTransactions request.
type DescribeTxns struct {
	Req    uint64
	TxnIDs []string
}

// TxnDescription is one transactional id in DescribeTransactions.
type TxnDescription struct {
	TxnID         string
	Err           int16
	State         string
	TimeoutMs     int32
	StartTs       int64
	ProducerID    int64
	ProducerEpoch int16
	Partitions    []TopicPartition // sorted
}

// DescribeResult answers a DescribeTxns, in request order.
type DescribeResult struct{ Txns []TxnDescription }

// ListTxns is a ListTransactions request; empty filters match everything, DurationMs < 0
// means no duration filter (v1, KIP-994: transactions running longer than DurationMs).
type ListTxns struct {
	Req         uint64
	States      []string
	ProducerIDs []int64
	DurationMs  int64
}

// TxnListing is one listed transactional id.
type TxnListing struct {
	TxnID      string
	ProducerID int64
	State      string
}

// ListResult answers a ListTxns (sorted by transactional id).
type ListResult struct {
	Err           int16
	UnknownStates []string
	Txns          []TxnListing
}

func (*InitProducerID) event()   {}
func (*AddPartitions) event()    {}
func (*VerifyPartitions) event() {}
func (*AddOffsets) event()       {}
func (*EndTxn) event()           {}
func (*DescribeTxns) event()     {}
func (*ListTxns) event()         {}
