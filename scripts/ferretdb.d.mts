export declare function ensureGo(): Promise<string>;
export declare function ensureGoToolchain(): Promise<string>;
