// Manages SCRAM-SHA-512 credentials through Kafka's Admin API (AlterUserScramCredentials, which the Node.js
// clients lack). Run by @tidemark/local-infra in Java's source-file mode on the broker's own classpath:
//   java -cp '<kafka libs>/*' ScramUsers.java <admin client properties file> list|apply
// `apply` reads lines from standard input (so passwords never appear in a command line):
//   upsert<TAB>user<TAB>password   |   delete<TAB>user
// Output lines start with "USER\t" (list) or "OK\t"/"MISSING\t" (apply); everything else is logging.
import java.io.BufferedReader;
import java.io.FileInputStream;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.concurrent.ExecutionException;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.ScramCredentialInfo;
import org.apache.kafka.clients.admin.ScramMechanism;
import org.apache.kafka.clients.admin.UserScramCredentialAlteration;
import org.apache.kafka.clients.admin.UserScramCredentialDeletion;
import org.apache.kafka.clients.admin.UserScramCredentialUpsertion;
import org.apache.kafka.common.KafkaFuture;
import org.apache.kafka.common.errors.ResourceNotFoundException;

public class ScramUsers {
  private static final int ITERATIONS = 8192;

  public static void main(String[] args) throws Exception {
    if (args.length != 2) throw new IllegalArgumentException("usage: ScramUsers <admin.properties> list|apply");
    Properties props = new Properties();
    try (FileInputStream in = new FileInputStream(args[0])) {
      props.load(in);
    }
    try (Admin admin = Admin.create(props)) {
      if (args[1].equals("list")) {
        for (String user : admin.describeUserScramCredentials().all().get().keySet()) System.out.println("USER\t" + user);
        return;
      }
      List<UserScramCredentialAlteration> changes = new ArrayList<>();
      BufferedReader reader = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8));
      for (String line = reader.readLine(); line != null; line = reader.readLine()) {
        if (line.isBlank()) continue;
        String[] f = line.split("\t", -1);
        if (f[0].equals("upsert") && f.length == 3) {
          changes.add(new UserScramCredentialUpsertion(f[1], new ScramCredentialInfo(ScramMechanism.SCRAM_SHA_512, ITERATIONS), f[2]));
        } else if (f[0].equals("delete") && f.length == 2) {
          changes.add(new UserScramCredentialDeletion(f[1], ScramMechanism.SCRAM_SHA_512));
        } else {
          throw new IllegalArgumentException("bad input line (expected upsert/delete)");
        }
      }
      if (changes.isEmpty()) return;
      Map<String, KafkaFuture<Void>> results = admin.alterUserScramCredentials(changes).values();
      for (Map.Entry<String, KafkaFuture<Void>> r : results.entrySet()) {
        try {
          r.getValue().get();
          System.out.println("OK\t" + r.getKey());
        } catch (ExecutionException e) {
          if (!(e.getCause() instanceof ResourceNotFoundException)) throw e;
          System.out.println("MISSING\t" + r.getKey());
        }
      }
    }
  }
}
