// Writes golden.txt: the KIP-848 consumer-group records of __consumer_offsets as Apache
// Kafka's own serde (GroupCoordinatorRecordSerde) encodes them. One line per record:
// "<name> <key hex> <value hex or ->". records848_test.go builds the same records with the
// broker's encoders and compares the bytes. Regenerate with scripts/gen-records848-golden.sh.
import java.io.PrintWriter;
import java.util.Arrays;
import java.util.Collections;
import java.util.List;

import org.apache.kafka.common.Uuid;
import org.apache.kafka.common.protocol.ApiMessage;
import org.apache.kafka.coordinator.common.runtime.CoordinatorRecord;
import org.apache.kafka.coordinator.group.GroupCoordinatorRecordSerde;
import org.apache.kafka.coordinator.group.generated.*;
import org.apache.kafka.server.common.ApiMessageAndVersion;

public class GenGolden {
    static final GroupCoordinatorRecordSerde SERDE = new GroupCoordinatorRecordSerde();
    static final Uuid T1 = new Uuid(0x0102030405060708L, 0x090a0b0c0d0e0f10L);
    static final Uuid T2 = new Uuid(0x1112131415161718L, 0x191a1b1c1d1e1f20L);
    static PrintWriter out;

    static String hex(byte[] b) {
        if (b == null) return "-";
        StringBuilder sb = new StringBuilder();
        for (byte x : b) sb.append(String.format("%02x", x));
        return sb.toString();
    }

    static void rec(String name, ApiMessage key, ApiMessage value) {
        CoordinatorRecord r = value == null
            ? CoordinatorRecord.tombstone(key)
            : CoordinatorRecord.record(key, new ApiMessageAndVersion(value, (short) 0));
        out.println(name + " " + hex(SERDE.serializeKey(r)) + " " + hex(SERDE.serializeValue(r)));
    }

    public static void main(String[] args) throws Exception {
        out = new PrintWriter(args[0]);

        rec("epoch", new ConsumerGroupMetadataKey().setGroupId("grp"),
            new ConsumerGroupMetadataValue().setEpoch(42));
        rec("epoch-tombstone", new ConsumerGroupMetadataKey().setGroupId("grp"), null);

        rec("partition-metadata", new ConsumerGroupPartitionMetadataKey().setGroupId("grp"),
            new ConsumerGroupPartitionMetadataValue().setTopics(Arrays.asList(
                new ConsumerGroupPartitionMetadataValue.TopicMetadata().setTopicId(T1).setTopicName("alpha").setNumPartitions(3),
                new ConsumerGroupPartitionMetadataValue.TopicMetadata().setTopicId(T2).setTopicName("beta").setNumPartitions(12))));
        rec("partition-metadata-tombstone", new ConsumerGroupPartitionMetadataKey().setGroupId("grp"), null);

        rec("member-metadata", new ConsumerGroupMemberMetadataKey().setGroupId("grp").setMemberId("m1"),
            new ConsumerGroupMemberMetadataValue()
                .setInstanceId(null).setRackId(null)
                .setClientId("client").setClientHost("/127.0.0.1")
                .setSubscribedTopicNames(Arrays.asList("alpha", "beta"))
                .setSubscribedTopicRegex("")
                .setRebalanceTimeoutMs(300000)
                .setServerAssignor("uniform"));
        rec("member-metadata-static-regex", new ConsumerGroupMemberMetadataKey().setGroupId("grp").setMemberId("m2"),
            new ConsumerGroupMemberMetadataValue()
                .setInstanceId("inst-2").setRackId("rack-a")
                .setClientId("c2").setClientHost("/10.0.0.2")
                .setSubscribedTopicNames(Collections.emptyList())
                .setSubscribedTopicRegex("a.*")
                .setRebalanceTimeoutMs(60000)
                .setServerAssignor(null));
        rec("member-metadata-classic", new ConsumerGroupMemberMetadataKey().setGroupId("grp").setMemberId("m3"),
            new ConsumerGroupMemberMetadataValue()
                .setInstanceId(null).setRackId(null)
                .setClientId("c3").setClientHost("/10.0.0.3")
                .setSubscribedTopicNames(Collections.singletonList("alpha"))
                .setSubscribedTopicRegex(null)
                .setRebalanceTimeoutMs(45000)
                .setServerAssignor(null)
                .setClassicMemberMetadata(new ConsumerGroupMemberMetadataValue.ClassicMemberMetadata()
                    .setSessionTimeoutMs(10000)
                    .setSupportedProtocols(Arrays.asList(
                        new ConsumerGroupMemberMetadataValue.ClassicProtocol().setName("range").setMetadata(new byte[]{0, 3, 0, 0, 0, 1}),
                        new ConsumerGroupMemberMetadataValue.ClassicProtocol().setName("cooperative-sticky").setMetadata(new byte[]{})))));
        rec("member-metadata-tombstone", new ConsumerGroupMemberMetadataKey().setGroupId("grp").setMemberId("m1"), null);

        rec("target-metadata", new ConsumerGroupTargetAssignmentMetadataKey().setGroupId("grp"),
            new ConsumerGroupTargetAssignmentMetadataValue().setAssignmentEpoch(41));
        rec("target-metadata-tombstone", new ConsumerGroupTargetAssignmentMetadataKey().setGroupId("grp"), null);

        rec("target-member", new ConsumerGroupTargetAssignmentMemberKey().setGroupId("grp").setMemberId("m1"),
            new ConsumerGroupTargetAssignmentMemberValue().setTopicPartitions(Arrays.asList(
                new ConsumerGroupTargetAssignmentMemberValue.TopicPartition().setTopicId(T1).setPartitions(Arrays.asList(0, 2)),
                new ConsumerGroupTargetAssignmentMemberValue.TopicPartition().setTopicId(T2).setPartitions(Arrays.asList(5)))));
        rec("target-member-empty", new ConsumerGroupTargetAssignmentMemberKey().setGroupId("grp").setMemberId("m2"),
            new ConsumerGroupTargetAssignmentMemberValue().setTopicPartitions(Collections.emptyList()));
        rec("target-member-tombstone", new ConsumerGroupTargetAssignmentMemberKey().setGroupId("grp").setMemberId("m1"), null);

        rec("current-assignment", new ConsumerGroupCurrentMemberAssignmentKey().setGroupId("grp").setMemberId("m1"),
            new ConsumerGroupCurrentMemberAssignmentValue()
                .setMemberEpoch(10).setPreviousMemberEpoch(9).setState((byte) 1)
                .setAssignedPartitions(Arrays.asList(
                    new ConsumerGroupCurrentMemberAssignmentValue.TopicPartitions().setTopicId(T1).setPartitions(Arrays.asList(0, 1))))
                .setPartitionsPendingRevocation(Arrays.asList(
                    new ConsumerGroupCurrentMemberAssignmentValue.TopicPartitions().setTopicId(T2).setPartitions(Arrays.asList(3, 4, 7)))));
        rec("current-assignment-tombstone", new ConsumerGroupCurrentMemberAssignmentKey().setGroupId("grp").setMemberId("m1"), null);

        rec("regex", new ConsumerGroupRegularExpressionKey().setGroupId("grp").setRegularExpression("a.*"),
            new ConsumerGroupRegularExpressionValue().setTopics(Arrays.asList("alpha", "another")).setVersion(17L).setTimestamp(1700000000000L));
        rec("regex-tombstone", new ConsumerGroupRegularExpressionKey().setGroupId("grp").setRegularExpression("a.*"), null);

        out.close();
    }
}
