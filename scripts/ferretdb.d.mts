export declare function ensureGo(): Promise<string>;
