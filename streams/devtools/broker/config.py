"""The local broker's configuration files, rendered from ports and paths (pure, no I/O).

One KRaft node that is broker and controller at once, listening on 127.0.0.1 only, with
the replication factors a single node needs. Internal topics get fewer partitions than
Kafka's default 50 so the first consumer group and the first transaction start quickly.
"""

from __future__ import annotations

import base64
import secrets
from pathlib import Path

NODE_ID = 1


def _escape(value: str) -> str:
    """Escape a value for a Java .properties file (backslashes would be swallowed)."""
    return value.replace("\\", "\\\\")


def server_properties(*, port: int, controller_port: int, log_dirs: Path) -> str:
    """``server.properties`` of a single-node KRaft broker+controller on 127.0.0.1."""
    lines = {
        "process.roles": "broker,controller",
        "node.id": str(NODE_ID),
        "controller.quorum.voters": f"{NODE_ID}@127.0.0.1:{controller_port}",
        "listeners": f"PLAINTEXT://127.0.0.1:{port},CONTROLLER://127.0.0.1:{controller_port}",
        "advertised.listeners": f"PLAINTEXT://127.0.0.1:{port}",
        "controller.listener.names": "CONTROLLER",
        "inter.broker.listener.name": "PLAINTEXT",
        "listener.security.protocol.map": "CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT",
        "log.dirs": _escape(str(log_dirs)),
        "num.partitions": "1",
        "default.replication.factor": "1",
        "min.insync.replicas": "1",
        "offsets.topic.replication.factor": "1",
        "offsets.topic.num.partitions": "10",
        "transaction.state.log.replication.factor": "1",
        "transaction.state.log.min.isr": "1",
        "transaction.state.log.num.partitions": "4",
        "group.initial.rebalance.delay.ms": "0",
        "log.retention.hours": "168",
    }
    return "".join(f"{key}={value}\n" for key, value in lines.items())


def log4j_properties(log_file: Path) -> str:
    """reload4j configuration: everything to one rolling file, nothing on the console."""
    return (
        "log4j.rootLogger=INFO, file\n"
        "log4j.appender.file=org.apache.log4j.RollingFileAppender\n"
        f"log4j.appender.file.File={_escape(str(log_file))}\n"
        "log4j.appender.file.MaxFileSize=10MB\n"
        "log4j.appender.file.MaxBackupIndex=3\n"
        "log4j.appender.file.layout=org.apache.log4j.PatternLayout\n"
        "log4j.appender.file.layout.ConversionPattern=[%d] %p %m (%c)%n\n"
        "log4j.logger.kafka.request.logger=WARN\n"
        "log4j.logger.state.change.logger=WARN\n"
        "log4j.logger.org.apache.kafka.raft=WARN\n"
    )


def new_cluster_id() -> str:
    """A KRaft cluster id as Kafka makes them (22 URL-safe base64 chars), without a JVM.

    Kafka never hands out an id starting with '-' (it would read as a command-line flag).
    """
    while True:
        cluster_id = base64.urlsafe_b64encode(secrets.token_bytes(16)).decode().rstrip("=")
        if not cluster_id.startswith("-"):
            return cluster_id


def pom_xml(kafka_version: str, slf4j_version: str = "1.7.36") -> str:
    """A throwaway Maven project whose runtime dependencies are the broker's jars."""
    return f"""<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>callstream</groupId>
  <artifactId>kafka-broker-jars</artifactId>
  <version>1</version>
  <packaging>pom</packaging>
  <dependencies>
    <dependency>
      <groupId>org.apache.kafka</groupId>
      <artifactId>kafka_2.13</artifactId>
      <version>{kafka_version}</version>
    </dependency>
    <dependency>
      <groupId>org.slf4j</groupId>
      <artifactId>slf4j-reload4j</artifactId>
      <version>{slf4j_version}</version>
    </dependency>
  </dependencies>
</project>
"""
