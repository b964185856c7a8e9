use std::fmt::Write as _;
use std::time::Instant;

use super::*;

/// The shape of `mariadb-dump` 10.11.19 `--all-databases --routines --events --triggers
/// --hex-blob --master-data=2 --gtid` output (one tuple per line; a single-line INSERT as older
/// versions write), with data chosen to trip a naive scanner.
const DUMP: &str = r##"/*M!999999\- enable the sandbox mode */ 
-- MariaDB dump 10.19  Distrib 10.11.19-MariaDB, for debian-linux-gnu (x86_64)
--
-- Host: 127.0.0.1    Database: 
-- ------------------------------------------------------
-- Server version	10.11.19-MariaDB-0+deb12u1-log

/*!40101 SET @OLD_CHARACTER_SET_CLIENT=@@CHARACTER_SET_CLIENT */;
/*!40101 SET @OLD_CHARACTER_SET_RESULTS=@@CHARACTER_SET_RESULTS */;
/*!40101 SET @OLD_COLLATION_CONNECTION=@@COLLATION_CONNECTION */;
/*!40101 SET NAMES utf8mb4 */;
/*!40103 SET @OLD_TIME_ZONE=@@TIME_ZONE */;
/*!40103 SET TIME_ZONE='+00:00' */;
/*!40014 SET @OLD_UNIQUE_CHECKS=@@UNIQUE_CHECKS, UNIQUE_CHECKS=0 */;
/*!40014 SET @OLD_FOREIGN_KEY_CHECKS=@@FOREIGN_KEY_CHECKS, FOREIGN_KEY_CHECKS=0 */;
/*!40101 SET @OLD_SQL_MODE=@@SQL_MODE, SQL_MODE='NO_AUTO_VALUE_ON_ZERO' */;
/*!40111 SET @OLD_SQL_NOTES=@@SQL_NOTES, SQL_NOTES=0 */;
-- CHANGE MASTER TO MASTER_USE_GTID=slave_pos;

-- A corresponding to the above master-data CHANGE-MASTER settings to the slave gtid state is printed later in the file.

--
-- Alternately, following is the position of the binary logging from SHOW MASTER STATUS at point of backup.
-- Use this when creating a slave of the master server where the backup was made.
-- The new server will be connecting to the master server where the backup was taken.
--

-- CHANGE MASTER TO MASTER_LOG_FILE='binlog.000001', MASTER_LOG_POS=865;

--
-- Current Database: `mysql`
--

CREATE DATABASE /*!32312 IF NOT EXISTS*/ `mysql` /*!40100 DEFAULT CHARACTER SET latin1 COLLATE latin1_swedish_ci */;

USE `mysql`;

--
-- Table structure for table `general_log`
--

/*!40101 SET @saved_cs_client     = @@character_set_client */;
/*!40101 SET character_set_client = utf8mb4 */;
CREATE TABLE IF NOT EXISTS `general_log` (
  `event_time` timestamp(6) NOT NULL DEFAULT current_timestamp(6) ON UPDATE current_timestamp(6),
  `argument` mediumtext NOT NULL
) ENGINE=CSV DEFAULT CHARSET=utf8mb3 COLLATE=utf8mb3_general_ci COMMENT='General log';
/*!40101 SET character_set_client = @saved_cs_client */;

--
-- Temporary table structure for view `user`
--

DROP TABLE IF EXISTS `user`;
/*!50001 DROP VIEW IF EXISTS `user`*/;
SET @saved_cs_client     = @@character_set_client;
SET character_set_client = utf8mb4;
/*!50001 CREATE VIEW `user` AS SELECT
 NULL AS `Host`,
 NULL AS `User` */;
SET character_set_client = @saved_cs_client;
/*! FLUSH PRIVILEGES */;

--
-- Current Database: `odd name`
--

CREATE DATABASE /*!32312 IF NOT EXISTS*/ `odd name` /*!40100 DEFAULT CHARACTER SET utf8mb4 COLLATE utf8mb4_general_ci */;

USE `odd name`;

--
-- Table structure for table `t-1`
--

DROP TABLE IF EXISTS `t-1`;
/*!40101 SET @saved_cs_client     = @@character_set_client */;
/*!40101 SET character_set_client = utf8mb4 */;
CREATE TABLE `t-1` (
  `k` int(11) NOT NULL,
  `v` text DEFAULT 'INSERT INTO `x` VALUES (1);',
  PRIMARY KEY (`k`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_general_ci COMMENT='a ''quoted'' comment; CREATE TABLE `no` (';
/*!40101 SET character_set_client = @saved_cs_client */;

--
-- Dumping data for table `t-1`
--

LOCK TABLES `t-1` WRITE;
/*!40000 ALTER TABLE `t-1` DISABLE KEYS */;
INSERT INTO `t-1` VALUES
(0,''),
(1,'x'),
(2,'),('),
(3,'it''s'),
(4,'back\\slash'),
(5,'quote\'),(6,\'x'),
(7,'line\nbreak'),
(8,NULL),
(9,'-- not a comment'),
(10,'/* nor this */'),
(11,'a;b'),
(12,'(((('),
(13,'\\'),
(14,'"'),
(15,'`');
/*!40000 ALTER TABLE `t-1` ENABLE KEYS */;
UNLOCK TABLES;

--
-- Table structure for table `a``b`
--

DROP TABLE IF EXISTS `a``b`;
/*!40101 SET @saved_cs_client     = @@character_set_client */;
/*!40101 SET character_set_client = utf8mb4 */;
CREATE TABLE `a``b` (
  `id` int(11) NOT NULL
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_general_ci;
/*!40101 SET character_set_client = @saved_cs_client */;

--
-- Dumping data for table `a``b`
--

LOCK TABLES `a``b` WRITE;
/*!40000 ALTER TABLE `a``b` DISABLE KEYS */;
/*!40000 ALTER TABLE `a``b` ENABLE KEYS */;
UNLOCK TABLES;

--
-- Current Database: `shop`
--

CREATE DATABASE /*!32312 IF NOT EXISTS*/ `shop` /*!40100 DEFAULT CHARACTER SET utf8mb4 COLLATE utf8mb4_general_ci */;

USE `shop`;

--
-- Sequence structure for `seq`
--

DROP SEQUENCE IF EXISTS `seq`;
CREATE SEQUENCE `seq` start with 1 minvalue 1 maxvalue 9223372036854775806 increment by 1 cache 1000 nocycle ENGINE=InnoDB;
DO SETVAL(`seq`, 1, 0);

--
-- Table structure for table `audit`
--

DROP TABLE IF EXISTS `audit`;
/*!40101 SET @saved_cs_client     = @@character_set_client */;
/*!40101 SET character_set_client = utf8mb4 */;
CREATE TABLE `audit` (
  `id` int(11) NOT NULL AUTO_INCREMENT,
  `item` int(11) DEFAULT NULL,
  `at` datetime DEFAULT NULL,
  PRIMARY KEY (`id`)
) ENGINE=InnoDB AUTO_INCREMENT=5 DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_general_ci;
/*!40101 SET character_set_client = @saved_cs_client */;

--
-- Dumping data for table `audit`
--

LOCK TABLES `audit` WRITE;
/*!40000 ALTER TABLE `audit` DISABLE KEYS */;
INSERT INTO `audit` VALUES
(1,1,'2026-11-21 02:58:00'),
(2,2,'2026-11-21 02:58:00'),
(3,-3,'2026-11-21 02:58:00');
INSERT INTO `audit` VALUES
(4,-4,NULL);
/*!40000 ALTER TABLE `audit` ENABLE KEYS */;
UNLOCK TABLES;

--
-- Table structure for table `items`
--

DROP TABLE IF EXISTS `items`;
/*!40101 SET @saved_cs_client     = @@character_set_client */;
/*!40101 SET character_set_client = utf8mb4 */;
CREATE TABLE `items` (
  `id` int(11) NOT NULL AUTO_INCREMENT,
  `name` varchar(50) DEFAULT NULL,
  `price` decimal(8,2) DEFAULT NULL,
  `pic` blob DEFAULT NULL,
  PRIMARY KEY (`id`)
) ENGINE=InnoDB AUTO_INCREMENT=4 DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_general_ci;
/*!40101 SET character_set_client = @saved_cs_client */;

--
-- Dumping data for table `items`
--

LOCK TABLES `items` WRITE;
/*!40000 ALTER TABLE `items` DISABLE KEYS */;
INSERT INTO `items` VALUES (1,'item 0 é\'\"',-0.50,0x00FF0000),(2,'item 1',1.01,_binary 'a\0b),(c'),(3,'item -- 2',-12.00,NULL);
/*!40000 ALTER TABLE `items` ENABLE KEYS */;
UNLOCK TABLES;
/*!50003 SET @saved_cs_client      = @@character_set_client */ ;
/*!50003 SET @saved_cs_results     = @@character_set_results */ ;
/*!50003 SET @saved_col_connection = @@collation_connection */ ;
/*!50003 SET character_set_client  = utf8mb3 */ ;
/*!50003 SET character_set_results = utf8mb3 */ ;
/*!50003 SET collation_connection  = utf8mb3_general_ci */ ;
/*!50003 SET @saved_sql_mode       = @@sql_mode */ ;
/*!50003 SET sql_mode              = 'STRICT_TRANS_TABLES,ERROR_FOR_DIVISION_BY_ZERO,NO_AUTO_CREATE_USER,NO_ENGINE_SUBSTITUTION' */ ;
DELIMITER ;;
/*!50003 CREATE*/ /*!50017 DEFINER=`root`@`localhost`*/ /*!50003 TRIGGER items_ai AFTER INSERT ON shop.items FOR EACH ROW INSERT INTO shop.audit (item, at) VALUES (NEW.id, NOW()) 
*/;;
DELIMITER ;
/*!50003 SET sql_mode              = @saved_sql_mode */ ;
/*!50003 SET character_set_client  = @saved_cs_client */ ;
/*!50003 SET character_set_results = @saved_cs_results */ ;
/*!50003 SET collation_connection  = @saved_col_connection */ ;

--
-- Temporary table structure for view `cheap`
--

DROP TABLE IF EXISTS `cheap`;
/*!50001 DROP VIEW IF EXISTS `cheap`*/;
SET @saved_cs_client     = @@character_set_client;
SET character_set_client = utf8mb4;
/*!50001 CREATE VIEW `cheap` AS SELECT
 NULL AS `id`,
 NULL AS `name` */;
SET character_set_client = @saved_cs_client;

--
-- Temporary table structure for view `old_style` (as MySQL 5.x wrote it)
--

/*!50001 CREATE TABLE `old_style` (
  `id` tinyint NOT NULL
) ENGINE=MyISAM */;

--
-- Dumping events for database 'shop'
--
/*!50106 SET @save_time_zone= @@TIME_ZONE */ ;
/*!50106 DROP EVENT IF EXISTS `tick` */;
DELIMITER ;;
/*!50003 SET time_zone             = 'SYSTEM' */ ;;
/*!50106 CREATE*/ /*!50117 DEFINER=`root`@`localhost`*/ /*!50106 EVENT `tick` ON SCHEDULE EVERY 1 DAY STARTS '2026-11-21 02:58:00' ON COMPLETION NOT PRESERVE DISABLE DO INSERT INTO shop.audit (item) VALUES (-1) 
*/ ;;
DELIMITER ;
/*!50106 SET TIME_ZONE= @save_time_zone */ ;

--
-- Dumping routines for database 'shop'
--
/*!50003 DROP PROCEDURE IF EXISTS `fill` */;
/*!50003 SET sql_mode              = 'NO_BACKSLASH_ESCAPES' */ ;
DELIMITER ;;
CREATE DEFINER=`root`@`localhost` PROCEDURE `fill`()
BEGIN
CREATE TABLE `scratch` (a INT);
INSERT INTO `items` VALUES (100,'C:\',0,NULL),(101,'x',0,NULL);
END
;;
DELIMITER ;
/*!50003 SET sql_mode              = @saved_sql_mode */ ;

--
-- Current Database: `shop`
--

USE `shop`;

--
-- Final view structure for view `cheap`
--

/*!50001 DROP VIEW IF EXISTS `cheap`*/;
/*!50001 SET @saved_cs_client          = @@character_set_client */;
/*!50001 SET @saved_cs_results         = @@character_set_results */;
/*!50001 SET @saved_col_connection     = @@collation_connection */;
/*!50001 SET character_set_client      = utf8mb3 */;
/*!50001 SET character_set_results     = utf8mb3 */;
/*!50001 SET collation_connection      = utf8mb3_general_ci */;
/*!50001 CREATE ALGORITHM=UNDEFINED */
/*!50013 DEFINER=`root`@`localhost` SQL SECURITY DEFINER */
/*!50001 VIEW `cheap` AS select `items`.`id` AS `id`,`items`.`name` AS `name` from `items` where `items`.`price` < 10 */;
/*!50001 SET character_set_client      = @saved_cs_client */;
/*!50001 SET character_set_results     = @saved_cs_results */;
/*!50001 SET collation_connection      = @saved_col_connection */;

-- The deferred gtid setting for slave corresponding to the master-data CHANGE-MASTER follows

-- Preferably use GTID to start replication from GTID position:

-- SET GLOBAL gtid_slave_pos='0-1-3';
/*!40103 SET TIME_ZONE=@OLD_TIME_ZONE */;

/*!40101 SET SQL_MODE=@OLD_SQL_MODE */;
/*!40014 SET FOREIGN_KEY_CHECKS=@OLD_FOREIGN_KEY_CHECKS */;
/*!40014 SET UNIQUE_CHECKS=@OLD_UNIQUE_CHECKS */;
/*!40101 SET CHARACTER_SET_CLIENT=@OLD_CHARACTER_SET_CLIENT */;
/*!40101 SET CHARACTER_SET_RESULTS=@OLD_CHARACTER_SET_RESULTS */;
/*!40101 SET COLLATION_CONNECTION=@OLD_COLLATION_CONNECTION */;
/*!40111 SET SQL_NOTES=@OLD_SQL_NOTES */;

-- Dump completed on 2026-11-21  2:58:00
"##;

fn counts_of(pieces: impl IntoIterator<Item = impl AsRef<[u8]>>) -> Counts {
    let mut scanner = SqlCounts::new();
    for piece in pieces {
        scanner.feed(piece.as_ref());
    }
    scanner.finish()
}

fn expected(databases: &[&str], rows: &[(&str, u64)]) -> Counts {
    Counts {
        databases: databases.iter().map(|d| (*d).to_owned()).collect(),
        table_rows: rows.iter().map(|(k, n)| ((*k).to_owned(), *n)).collect(),
    }
}

#[test]
fn a_mariadb_dump_gives_its_databases_tables_and_rows() {
    // `t-1` has 15 rows, not 16: `(6,\'x'` is inside row 5's string. The procedure's body
    // (under NO_BACKSLASH_ESCAPES, with a string ending in a backslash), the trigger and the
    // event create and fill nothing at backup time; neither do the view placeholders, and a
    // sequence is not a table.
    let want = expected(
        &["mysql", "odd name", "shop"],
        &[
            ("mysql.general_log", 0),
            ("odd name.a`b", 0),
            ("odd name.t-1", 15),
            ("shop.audit", 4),
            ("shop.items", 3),
        ],
    );
    assert_eq!(counts_of([DUMP]), want);
    for size in 1..=7 {
        assert_eq!(
            counts_of(DUMP.as_bytes().chunks(size)),
            want,
            "chunks of {size}"
        );
    }
}

#[test]
fn any_split_of_a_statement_gives_the_same_counts() {
    let text = "CREATE DATABASE `d`;\nUSE `d`;\nCREATE TABLE `t``1` (\n  `a` text DEFAULT 'x;y'\n);\n\
        -- comment (\n/* ( */INSERT INTO `t``1` VALUES ('a\\'),(\\\\',-1),('''',0x0A),(_binary 'b\"',NULL);\n\
        INSERT  IGNORE INTO `d`.`t``1` (`a`, `b`) VALUES (1,2);\n\
        REPLACE INTO t2 VALUES (1);\nDELIMITER ;;\nINSERT INTO `t``1` VALUES (9);;\nDELIMITER ;\n";
    let want = expected(&["d"], &[("d.t2", 1), ("d.t`1", 4)]);
    assert_eq!(counts_of([text]), want);
    let bytes = text.as_bytes();
    for at in 0..=bytes.len() {
        assert_eq!(
            counts_of([&bytes[..at], &bytes[at..]]),
            want,
            "split at {at}"
        );
    }
    for a in 0..bytes.len() {
        for b in a..bytes.len() {
            let three = [&bytes[..a], &bytes[a..b], &bytes[b..]];
            assert_eq!(counts_of(three), want, "split at {a} and {b}");
        }
    }
}

#[test]
fn the_same_table_in_two_databases_is_counted_apart() {
    let text = "CREATE DATABASE `a`;\nUSE `a`;\nCREATE TABLE `t` (`id` int);\n\
        INSERT INTO `t` VALUES (1),(2);\n\
        CREATE DATABASE /*!32312 IF NOT EXISTS*/ `b`;\nUSE `b`;\nCREATE TABLE `t` (`id` int);\n\
        INSERT INTO `t` VALUES (1);\nCREATE TABLE `empty` (`id` int);\n";
    assert_eq!(
        counts_of([text]),
        expected(&["a", "b"], &[("a.t", 2), ("b.empty", 0), ("b.t", 1)])
    );
}

#[test]
fn dumps_without_use_and_other_options_are_understood() {
    // `mariadb-dump shop` (no --databases): no CREATE DATABASE, no USE; names unquoted with
    // --skip-quote-names; one row per INSERT with --skip-extended-insert; --complete-insert.
    let text = "-- MySQL dump 10.13\nCREATE TABLE t (a int);\nCREATE TABLE IF NOT EXISTS general_log (b int);\n\
        INSERT INTO t VALUES (1);\nINSERT INTO t VALUES (2);\n\
        INSERT INTO t (a) VALUES (3),\n(4);\ninsert delayed into t value (5);\n\
        INSERT INTO t SELECT * FROM t;\nINSERT INTO t VALUES (6) ON DUPLICATE KEY UPDATE a=VALUES(a);\n\
        CREATE OR REPLACE TABLE `x`.`y` (c int);\n-- Dump completed\n";
    assert_eq!(
        counts_of([text]),
        expected(&[], &[("general_log", 0), ("t", 6), ("x.y", 0)])
    );
}

#[test]
fn nothing_is_learnt_from_comments_strings_or_routine_bodies() {
    let text = "# INSERT INTO t VALUES (1);\n/* CREATE TABLE `c` (a int); */\n\
        SELECT 'CREATE TABLE `s` (a int);\nINSERT INTO s VALUES (1);';\n\
        --\tINSERT INTO t VALUES (1);\n\
        delimiter $$\nCREATE PROCEDURE p() BEGIN\nCREATE TABLE `r` (a int);\nEND $$\nDELIMITER ;\n\
        CREATE TABLE `real`(a int);\n";
    assert_eq!(counts_of([text]), expected(&[], &[("real", 0)]));
    assert_eq!(counts_of([""]), Counts::default());
}

/// A measurement, not a check: `cargo test -p ferryman-repo --release --lib --
/// --ignored --nocapture scanner_throughput`. The manager ingests at ~170 MB/s; the scanner
/// must stay far above that.
#[test]
#[ignore = "a measurement: run it in release mode"]
#[allow(clippy::print_stderr)] // the measurement is the output
fn scanner_throughput() {
    type Row = fn(usize) -> String;
    let shapes: [(&str, Row); 3] = [
        ("text rows", |i| {
            format!(
                "({i},'customer {i}, \\'quoted\\' and it''s (really) long: lorem ipsum dolor sit amet',\
                 {}.{:02},NULL,'2026-11-21 02:58:00')",
                i % 1000,
                i % 100
            )
        }),
        ("numeric rows", |i| {
            format!("({i},{},-{},{}.5,NULL,{})", i * 7, i % 13, i % 1000, i * 31)
        }),
        ("hex blobs", |i| {
            format!("({i},0x{})", "DEADBEEF0123456789".repeat(12))
        }),
    ];
    for (name, row) in shapes {
        // Statements of ~1 MB, one tuple per line as mariadb-dump 10.11 writes them; 300 MB in all.
        let mut statement = String::from("INSERT INTO `t` VALUES\n");
        let mut rows = 0u64;
        while statement.len() < 1_000_000 {
            if rows > 0 {
                statement.push_str(",\n");
            }
            let _ = write!(statement, "{}", row(rows as usize));
            rows += 1;
        }
        statement.push_str(";\n");
        let repeat = 300_000_000 / statement.len();
        let started = Instant::now();
        let mut scanner = SqlCounts::new();
        for _ in 0..repeat {
            for piece in statement.as_bytes().chunks(256 * 1024) {
                scanner.feed(piece);
            }
        }
        let seconds = started.elapsed().as_secs_f64();
        assert_eq!(scanner.finish().table_rows["t"], rows * repeat as u64);
        let mb = (statement.len() * repeat) as f64 / 1e6;
        eprintln!(
            "{name}: {mb:.0} MB in {seconds:.3} s = {:.0} MB/s",
            mb / seconds
        );
    }
}

#[test]
fn find2_finds_the_first_of_two_bytes_anywhere() {
    for len in 0..40 {
        for at in 0..len {
            for other in at..len {
                let mut data = vec![b'x'; len];
                data[other] = b'\\';
                data[at] = b'\'';
                assert_eq!(find2(&data, b'\'', b'\\'), Some(at), "{len} {at} {other}");
                // Bytes next to the wanted ones (a borrow in the 8-byte test) do not match.
                data[at] = b'\'' + 1;
                data[other] = b'\'' - 1;
                assert_eq!(find2(&data, b'\'', b'\\'), None);
            }
        }
        assert_eq!(find2(&vec![0u8; len], b'\'', b'\\'), None);
    }
}
