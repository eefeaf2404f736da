import { AssignerProtocol, type Assigner, type PartitionAssigner } from 'kafkajs';

/**
 * kafkajs's round-robin assignment, but every member gets an assignment, empty when there are
 * more members than partitions. kafkajs's own assigner leaves such members out of SyncGroup;
 * Apache Kafka fills them in, but a coordinator that waits for every member's assignment
 * (librdkafka's mock cluster) rebalances forever, and nothing is consumed. Same protocol name
 * and assignment as kafkajs's, so members of both kinds can share a group during an upgrade.
 */
export const CompleteRoundRobinAssigner: PartitionAssigner = ({ cluster }): Assigner => ({
  name: 'RoundRobinAssigner',
  version: 0,
  async assign({ members, topics }) {
    const sorted = members.map((m) => m.memberId).sort();
    const assignment = new Map<string, Record<string, number[]>>(sorted.map((id) => [id, Object.create(null) as Record<string, number[]>]));
    let i = 0;
    for (const topic of topics) {
      for (const p of cluster.findTopicPartitionMetadata(topic)) {
        const a = assignment.get(sorted[i++ % sorted.length]!)!;
        (a[topic] ??= []).push(p.partitionId);
      }
    }
    return [...assignment].map(([memberId, a]) => ({
      memberId,
      memberAssignment: AssignerProtocol.MemberAssignment.encode({ version: 0, assignment: a, userData: Buffer.alloc(0) }),
    }));
  },
  protocol({ topics }) {
    return { name: 'RoundRobinAssigner', metadata: AssignerProtocol.MemberMetadata.encode({ version: 0, topics, userData: Buffer.alloc(0) }) };
  },
});
